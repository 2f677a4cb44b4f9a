//! synkit's transports: the code that puts [`synkit_core`] endpoints on the
//! wire and calls remote ones, on threads and mio, without an async runtime.
//!
//! Each protocol sits behind its own cargo feature so a constrained host
//! compiles only what it uses:
//!
//! - `engine` (pulled in by every server below): [`engine`], mio event
//!   loops that only move bytes and timers, sans-IO protocol state
//!   machines (one per connection), and a worker pool for endpoints that
//!   block; its [`engine::ServerConfig`], [`engine::Handle`] and
//!   [`engine::Stats`] are every server's.
//! - `http-server` (default): [`http::server`], an HTTP server with Go
//!   kit's `Server` semantics: HTTP/1.1, and HTTP/2 (h2c) to the same
//!   services on the same port.
//! - `http-client` (default): [`http::client`], an HTTP client endpoint over
//!   ureq, with Go kit's `Client` semantics.
//! - `jsonrpc`: [`jsonrpc`], JSON-RPC 2.0 over HTTP (Go kit's
//!   `transport/http/jsonrpc`), server and client.
//! - `netrpc`: [`netrpc`], Go's `net/rpc` in its JSON and gob codecs
//!   (and gob over HTTP's CONNECT), server and client, on the engine
//!   without the HTTP server.
//! - `etcd`: [`sd::etcd`], service discovery and registration on etcd v3
//!   (Go kit's `sd/etcdv3`), over etcd's JSON gateway.
//! - `prometheus`, `statsd`, `zipkin`: [`export`], metrics and traces out
//!   of the process: Prometheus's `GET /metrics`, StatsD and DogStatsD over
//!   UDP, Zipkin's span API.
//! - `dnssrv`: [`sd::dnssrv`], service discovery by DNS SRV records (Go
//!   kit's `sd/dnssrv`), against a DNS server of your choosing.

#![forbid(unsafe_code)]

#[cfg(feature = "engine")]
// The engine alone serves nothing: a protocol feature puts it to use.
#[cfg_attr(
    not(any(feature = "http-server", feature = "grpc", feature = "netrpc")),
    allow(dead_code, unused_imports)
)]
pub mod engine;
#[cfg(any(feature = "prometheus", feature = "statsd", feature = "zipkin"))]
pub mod export;
#[cfg(feature = "grpc")]
pub mod grpc;
#[cfg(any(feature = "http-server", feature = "grpc"))]
// The client half of the HTTP/2 core serves the gRPC client: a build
// without it leaves that half unused (the all-features lint still sees it).
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub mod h2;
#[cfg(any(feature = "http-server", feature = "http-client"))]
pub mod http;
#[cfg(feature = "jsonrpc")]
pub mod jsonrpc;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "netrpc")]
pub mod netrpc;
#[cfg(any(feature = "etcd", feature = "dnssrv"))]
pub mod sd;
#[cfg(any(
    feature = "etcd",
    feature = "dnssrv",
    feature = "statsd",
    feature = "nats"
))]
mod stop;
#[cfg(any(feature = "nats", feature = "grpc"))]
mod wait;

/// Entry points for the fuzz targets in `transports/fuzz`; not an API.
#[cfg(all(fuzzing, feature = "http-server"))]
#[doc(hidden)]
pub mod fuzzing {
    use crate::http::server::ServerConfig;

    /// Parses `bytes` as a request head, checking that the parser never
    /// reads past its input.
    pub fn request(bytes: &[u8]) {
        crate::http::server::fuzz_request(bytes, &ServerConfig::default());
    }

    /// Feeds `bytes` to an HTTP/1.1 connection in the splits its first
    /// bytes choose, answering every request, and checks the machine's
    /// invariants: no panic, input and bodies within their limits, and
    /// never stuck (whenever it stops reading, something it holds can be
    /// cleared).
    pub fn connection(bytes: &[u8]) {
        crate::http::server::fuzz_connection(bytes);
    }

    /// Feeds the HTTP/2 preface and then `bytes` to an HTTP/2 server
    /// connection (frames, header blocks through HPACK, flow control),
    /// answering every request, and checks its bounds.
    #[cfg(feature = "grpc")]
    pub fn h2(bytes: &[u8]) {
        crate::h2::server::fuzz::fuzz_stream(bytes);
    }
}
