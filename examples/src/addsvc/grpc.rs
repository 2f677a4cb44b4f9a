//! addsvc over gRPC with Go kit addsvc's proto (`package pb; service Add
//! { rpc Sum(SumRequest) returns (SumReply); rpc Concat(ConcatRequest)
//! returns (ConcatReply); }`): the messages generated from that proto
//! ([`crate::pb::addsvc`]), and the business errors in the reply's `err`,
//! as Go kit's addtransport encodes them.

use synkit_core::endpoint::endpoint_fn;
use synkit_core::{Context, Endpoint};
use synkit_transports::grpc::{Server, Status, ToStatus};

use super::{AddError, AddService};

pub use crate::pb::addsvc::{ConcatReply, ConcatRequest, SumReply, SumRequest};

impl ToStatus for AddError {
    fn to_status(&self) -> Status {
        match self {
            AddError::Synkit(e) => e.to_status(),
            other => Status::new(synkit_transports::grpc::Code::Unknown, other.to_string()),
        }
    }
}

/// Go kit's `err2str`: the error's text, or nothing.
fn err2str(e: AddError) -> String {
    e.to_string()
}

/// `Sum` with its business error in the reply; synkit's refusals stay
/// errors (gRPC statuses).
pub fn sum_endpoint<S: AddService>(
    svc: S,
) -> impl Endpoint<SumRequest, Response = SumReply, Error = AddError> {
    endpoint_fn(move |cx: &Context<'_>, req: SumRequest| {
        cx.check()?;
        Ok(match svc.sum(req.a, req.b) {
            Ok(v) => SumReply {
                v,
                err: String::new(),
            },
            Err(AddError::Synkit(e)) => return Err(AddError::Synkit(e)),
            Err(e) => SumReply {
                v: 0,
                err: err2str(e),
            },
        })
    })
}

/// `Concat`, likewise.
pub fn concat_endpoint<S: AddService>(
    svc: S,
) -> impl Endpoint<ConcatRequest, Response = ConcatReply, Error = AddError> {
    endpoint_fn(move |cx: &Context<'_>, req: ConcatRequest| {
        cx.check()?;
        Ok(match svc.concat(&req.a, &req.b) {
            Ok(v) => ConcatReply {
                v,
                err: String::new(),
            },
            Err(AddError::Synkit(e)) => return Err(AddError::Synkit(e)),
            Err(e) => ConcatReply {
                v: String::new(),
                err: err2str(e),
            },
        })
    })
}

/// `pb.Add` as a gRPC server.
pub fn server<S: AddService + Clone + Send + Sync + 'static>(svc: S) -> Server {
    Server::new()
        .method("/pb.Add/Sum", sum_endpoint(svc.clone()))
        .method("/pb.Add/Concat", concat_endpoint(svc))
}
