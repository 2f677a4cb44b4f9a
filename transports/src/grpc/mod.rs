//! gRPC over HTTP/2 cleartext, with Go kit's `transport/grpc` shape: a
//! [`Server`] of methods (`/package.Service/Method`), each an endpoint
//! between a decoded request message and an encoded reply; protobuf
//! messages by `prost`; gRPC's status codes in trailers, mapped from
//! synkit's error kinds and from the service's own errors through
//! [`ToStatus`]; `grpc-timeout` as the call's deadline; length-prefixed
//! messages up to [`MAX_MESSAGE`] (`RESOURCE_EXHAUSTED` beyond); and the
//! standard health service (`grpc.health.v1.Health/Check`). Methods are
//! unary or server-streaming ([`ServerStream`]).

mod client;
mod metadata;
mod server;
mod status;
mod stream;
mod trace;

pub use crate::engine::{Handle, ServerClock, ServerConfig, Stats};
pub use client::{Client, MethodEndpoint, ResponseStream};
pub use metadata::{Metadata, metadata};
pub use server::Server;
pub use status::{Code, Status, ToStatus};
pub use stream::ServerStream;
pub use trace::{ClientTrace, ServerTrace, StreamSpan};

/// The largest message taken or sent by default: gRPC's 4 MiB.
pub const MAX_MESSAGE: usize = 4 << 20;

/// `message` encoded and framed as gRPC does (a zero "compressed" byte,
/// the length as four big-endian bytes, the bytes), in one allocation.
pub(crate) fn framed(message: &impl prost::Message) -> Vec<u8> {
    let len = message.encoded_len();
    let mut out = Vec::with_capacity(5 + len);
    out.push(0);
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    // The vector has room for all of it: encoding cannot fail.
    let _ = message.encode(&mut out);
    out
}

/// The length a message's 5-byte prefix announces, if it is one we take:
/// not compressed, at most `max` bytes.
pub(crate) fn message_len(prefix: &[u8], max: usize) -> Result<usize, Status> {
    if prefix[0] != 0 {
        return Err(Status::new(
            Code::Unimplemented,
            "compressed messages are not supported",
        ));
    }
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    if len > max {
        return Err(Status::new(
            Code::ResourceExhausted,
            format!("a message of {len} bytes is over the limit of {max}"),
        ));
    }
    Ok(len)
}

/// The one message in a unary call's body.
pub(crate) fn unframe_message(body: &[u8], max: usize) -> Result<&[u8], Status> {
    if body.len() < 5 {
        return Err(Status::new(Code::Internal, "a message cut short"));
    }
    let len = message_len(body, max)?;
    if body.len() != 5 + len {
        return Err(Status::new(
            Code::Internal,
            "the body is not one whole message",
        ));
    }
    Ok(&body[5..])
}
