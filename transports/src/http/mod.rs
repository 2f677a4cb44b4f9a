//! HTTP/1.1: a server (feature `http-server`) and a client (feature
//! `http-client`).
//!
//! The API edge uses the `http` crate's types — [`Method`], [`StatusCode`],
//! [`HeaderMap`], [`Request`], [`Response`] — re-exported here, so users of
//! hyper, axum or ureq meet what they know.

#[cfg(feature = "http-client")]
pub mod client;
#[cfg(feature = "http-server")]
pub mod server;
pub mod status;
pub mod trace;

pub use ::http::{
    HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version, header,
};
