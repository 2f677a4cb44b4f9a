//! JSON-RPC 2.0 over HTTP: Go kit's `transport/http/jsonrpc`, with the
//! parts of the spec Go kit leaves out (notifications, batches, the
//! version check, ids on error responses).
//!
//! A [`Server`] maps method names to endpoints, each with a decoder for
//! its `params` and an encoder for its `result` (Go kit's
//! `EndpointCodecMap`); it is a [`Service`](crate::http::server::Service)
//! to put on a route. A [`client`] calls one method of a remote server as
//! an endpoint.
//!
//! ```
//! use synkit_core::endpoint::endpoint_fn;
//! use synkit_core::{Context, Error};
//! use synkit_transports::http::server::Service;
//! use synkit_transports::http::{Method, Request, Response};
//! use synkit_transports::jsonrpc::{JsonRpcError, Server};
//!
//! let double = endpoint_fn(|_: &Context<'_>, n: i64| Ok::<_, Error>(n * 2));
//! let server = Server::new().method("double", double, JsonRpcError::internal);
//!
//! let mut req = Request::new(br#"{"jsonrpc":"2.0","method":"double","params":21,"id":1}"#.to_vec());
//! *req.method_mut() = Method::POST;
//! let mut resp = Response::new(Vec::new());
//! server.serve(&Context::background(), &mut req, &mut resp);
//! assert_eq!(resp.body(), b"{\"jsonrpc\":\"2.0\",\"result\":42,\"id\":1}\n");
//! ```

pub mod client;
mod server;

use std::fmt;

use serde::Serialize;

pub use server::{MAX_BATCH, Server};

/// The spec's error codes.
pub mod code {
    /// The body is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a valid request object (or an empty or oversized batch).
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The params do not fit the method.
    pub const INVALID_PARAMS: i64 = -32602;
    /// The method failed.
    pub const INTERNAL_ERROR: i64 = -32603;
}

/// A JSON-RPC error object: Go kit's `jsonrpc.Error`.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct JsonRpcError {
    /// The code: one of [`code`], or the application's own.
    pub code: i64,
    /// What went wrong.
    pub message: String,
    /// More, if the application has it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<serde_json::Value>,
}

impl JsonRpcError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> JsonRpcError {
        JsonRpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// An endpoint's error as the spec's internal error (-32603) with its
    /// text: what Go kit's default error encoder sends for an error that
    /// names no code.
    pub fn internal(err: &dyn fmt::Display) -> JsonRpcError {
        JsonRpcError::new(code::INTERNAL_ERROR, err.to_string())
    }
}

impl fmt::Display for JsonRpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JSON-RPC error {}: {}", self.code, self.message)
    }
}

impl std::error::Error for JsonRpcError {}
