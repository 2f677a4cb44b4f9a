//! addsvc over JSON-RPC 2.0, as Go kit's addtransport serves it: methods
//! `sum` and `concat` with params `{"a":…,"b":…}` and results `{"v":…}`.

use synkit_transports::jsonrpc::{JsonRpcError, Server};

use super::transport::{concat_endpoint, sum_endpoint};
use super::{AddError, AddService};

/// The error object for an add-service error: the business errors under
/// the application code -32000 (the code Go kit's addtransport uses for
/// its own failures), synkit's refusals as internal errors.
pub fn error(e: &AddError) -> JsonRpcError {
    match e {
        AddError::Synkit(_) => JsonRpcError::internal(e),
        _ => JsonRpcError::new(-32000, e.to_string()),
    }
}

/// `sum` and `concat` as JSON-RPC methods.
pub fn server<S: AddService + Clone + Send + Sync + 'static>(svc: S) -> Server {
    Server::new()
        .method_with("sum", sum_endpoint(svc.clone()), error)
        .method_with("concat", concat_endpoint(svc), error)
}
