//! The string service over the other transports, with the HTTP bodies:
//! JSON-RPC 2.0 (methods `uppercase` and `count`), Go's net/rpc (methods
//! `StringService.Uppercase` and `StringService.Count`, in each of Go's
//! codecs) and NATS request-reply (subjects `stringsvc.uppercase` and
//! `stringsvc.count`, in queue group `stringsvc` so that instances share
//! the load).

use synkit_transports::jsonrpc::{JsonRpcError, Server};
use synkit_transports::nats::{self, Connection, NatsError, Subscriber};
use synkit_transports::netrpc;

use super::endpoints::count_endpoint;
use super::transport::uppercase_reply_endpoint;
use super::{StringError, StringService};

/// The NATS queue group stringsvc instances serve in.
pub const NATS_QUEUE: &str = "stringsvc";

/// `uppercase` and `count` as JSON-RPC methods. The service's own error
/// travels in the result, as over HTTP; a refusal from synkit (rate limit,
/// deadline…) is an internal error.
pub fn jsonrpc_server<S: StringService + Clone + Send + Sync + 'static>(svc: S) -> Server {
    let error = |e: &StringError| JsonRpcError::internal(e);
    Server::new()
        .method_with("uppercase", uppercase_reply_endpoint(svc.clone()), error)
        .method_with("count", count_endpoint(svc), error)
}

/// `StringService.Uppercase` and `StringService.Count` as net/rpc methods.
pub fn netrpc_server<S: StringService + Clone + Send + Sync + 'static>(svc: S) -> netrpc::Server {
    netrpc::Server::new()
        .method(
            "StringService.Uppercase",
            uppercase_reply_endpoint(svc.clone()),
        )
        .method("StringService.Count", count_endpoint(svc))
}

/// Serves both subjects on `conn` with `workers` threads each, until the
/// returned handles are dropped.
pub fn serve_nats<S: StringService + Clone + Send + Sync + 'static>(
    svc: S,
    conn: &Connection,
    workers: usize,
) -> Result<[nats::Handle; 2], NatsError> {
    let upper = Subscriber::json(uppercase_reply_endpoint(svc.clone())).serve(
        conn,
        "stringsvc.uppercase",
        Some(NATS_QUEUE),
        workers,
    )?;
    let count = Subscriber::json(count_endpoint(svc)).serve(
        conn,
        "stringsvc.count",
        Some(NATS_QUEUE),
        workers,
    )?;
    Ok([upper, count])
}
