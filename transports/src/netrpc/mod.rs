//! Go's `net/rpc`, JSON codec (`net/rpc/jsonrpc`): methods named
//! `Service.Method` served over raw TCP, one JSON object per call, answers
//! in the order they finish (as Go's server answers), on the same engine
//! (mio event loops and worker pool) as the HTTP server.
//!
//! Go's wire format: a call is `{"method":"Arith.Multiply","params":[arg],
//! "id":N}`; an answer `{"id":N,"result":…,"error":null}` or, failed,
//! `{"id":N,"result":null,"error":"text"}`, each followed by a newline.
//! A stream that is not JSON closes the connection (Go's server does the
//! same); the server goes on. [`NetRpcClient`] is the other side, Go's
//! `jsonrpc.Dial`: many calls on one connection, answered by id.
//!
//! ```no_run
//! use synkit_core::endpoint::endpoint_fn;
//! use synkit_core::{Context, Error};
//! use synkit_transports::http::server::ServerConfig;
//! use synkit_transports::netrpc::NetRpcServer;
//!
//! #[derive(serde::Deserialize)]
//! struct Args { a: i64, b: i64 }
//! let multiply = endpoint_fn(|_: &Context<'_>, x: Args| Ok::<_, Error>(x.a * x.b));
//! let server = NetRpcServer::new()
//!     .method("Arith.Multiply", multiply)
//!     .bind("127.0.0.1:1234", &ServerConfig::default())?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod client;
mod gob;
mod server;
mod session;

pub use client::{MethodEndpoint, NetRpcClient, NetRpcError};
pub use server::{NetRpcHandle, NetRpcServer};

/// The most bytes one call may take; a longer one closes the connection.
pub const MAX_CALL: usize = 1 << 20;
