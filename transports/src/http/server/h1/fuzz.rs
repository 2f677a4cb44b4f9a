//! The fuzz target's driver for the connection machine, also run by the
//! unit tests on known streams.

use std::sync::Arc;

use super::{Connection, Phase, chunked};
use crate::engine::{Stats, fuzz};
use crate::http::server::ServerConfig;

/// Drives a connection through `bytes`, the first eight of which choose the
/// split sizes: the fuzz target's body, and the invariants it checks.
pub(crate) fn fuzz_stream(bytes: &[u8]) {
    let (splits, wire) = bytes.split_at(bytes.len().min(8));
    let splits: Vec<usize> = splits.iter().map(|&b| usize::from(b) + 1).collect();
    let config = ServerConfig {
        max_head_bytes: 1024,
        max_body_bytes: 4096,
        ..ServerConfig::default()
    };
    let (max_head, max_body) = (config.max_head_bytes, config.max_body_bytes);
    let stats = Arc::new(Stats::default());
    let mut c = Connection::new(Arc::new(config), stats);
    let check = |c: &Connection| {
        let bound = max_head.max(chunked::MAX_FRAMING_LINE) + 256;
        assert!(c.input.len() <= bound, "input past its bound");
        if let Phase::Body(r) = &c.phase {
            assert!(
                r.exchange.request.body().len() <= max_body,
                "body past its limit"
            );
        }
    };
    let answer = |x: &mut super::Exchange| {
        assert!(x.request.body().len() <= max_body);
        x.response.body_mut().extend_from_slice(b"ok");
    };
    fuzz::drive(&mut c, &splits, wire, false, check, answer);
}
