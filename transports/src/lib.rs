//! synkit's transports: the code that puts [`synkit_core`] endpoints on the
//! wire and calls remote ones, on threads and mio, without an async runtime.
//!
//! Each protocol sits behind its own cargo feature so a constrained host
//! compiles only what it uses. None is available yet: the HTTP/1.1 server and
//! client are the next to arrive.

#![forbid(unsafe_code)]
