//! Go's `net/rpc`: methods named `Service.Method`, served on the same
//! engine (mio event loops and worker pool) as the HTTP server, in each of
//! Go's codecs, all on one port — the first bytes of a connection say
//! which:
//!
//! - the **JSON codec** (`net/rpc/jsonrpc`, `jsonrpc.Dial`): a call is
//!   `{"method":"Arith.Multiply","params":[arg],"id":N}`, an answer
//!   `{"id":N,"result":…,"error":null}` or, failed, `{"id":N,"result":null,
//!   "error":"text"}`, each followed by a newline;
//! - the **gob codec** (Go's default, [`gob`]) on a bare connection
//!   (`rpc.Dial`): a `Request{ServiceMethod, Seq}` then the argument, each a
//!   gob value; an answer `Response{ServiceMethod, Seq, Error}` then the
//!   reply (an empty struct when the call failed);
//! - the gob codec **over HTTP** (`rpc.DialHTTP`, served by Go's
//!   `rpc.HandleHTTP`): `CONNECT /_goRPC_ HTTP/1.0`, answered `HTTP/1.0 200
//!   Connected to Go RPC`, then the gob stream. Another method on that path
//!   gets Go's `405 must CONNECT`, another path a 404.
//!
//! Answers go out in the order calls finish, as Go's server sends them.
//! Bytes that are not the codec (garbage, a truncated message at the end of
//! the stream, a malformed gob type) close the connection, as Go's server
//! does; the server goes on. An argument that cannot be read as the
//! method's type fails that call with the decoder's error and the
//! connection carries on (gob messages are framed, so the stream stays in
//! step — Go's server does the same). [`Client`] is the other side,
//! in each codec: many calls on one connection, answered by id.
//!
//! ```no_run
//! use synkit_core::endpoint::endpoint_fn;
//! use synkit_core::{Context, Error};
//! use synkit_transports::netrpc::ServerConfig;
//! use synkit_transports::netrpc::Server;
//!
//! #[derive(serde::Deserialize)]
//! struct Args { a: i64, b: i64 }
//! let multiply = endpoint_fn(|_: &Context<'_>, x: Args| Ok::<_, Error>(x.a * x.b));
//! let server = Server::new()
//!     .method("Arith.Multiply", multiply)
//!     .bind("127.0.0.1:1234", &ServerConfig::default())?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod client;
pub mod gob;
mod server;
mod session;

pub use crate::engine::{Handle, ServerClock, ServerConfig, Stats};
pub use client::{Client, Codec, MethodEndpoint, NetRpcError};
pub use server::Server;

/// The most bytes one call may take; a longer one closes the connection.
pub const MAX_CALL: usize = 1 << 20;
