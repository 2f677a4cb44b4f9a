//! The fuzz target's driver for the connection machine, also run by the
//! unit tests on known streams.

use std::sync::Arc;

use synkit_core::time::Instant;

use super::{Connection, Phase, chunked};
use crate::engine::{Now, Session, Stats};
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
    let mut c = Connection::new(Arc::new(config), stats, Instant::ZERO);
    let mut pos = 0;
    let mut ms = 0u64;
    let mut split = splits.iter().cycle();
    let mut idle_rounds = 0;
    while !c.wants_close() {
        let now = Now {
            at: Instant::from_nanos(ms * 1_000_000),
            unix_secs: 1,
        };
        let mut progressed = false;
        if c.wants_read() && pos < wire.len() {
            let end = (pos + split.next().copied().unwrap_or(1)).min(wire.len());
            c.received(&wire[pos..end], &now);
            pos = end;
            progressed = true;
        }
        let bound = max_head.max(chunked::MAX_FRAMING_LINE) + 256;
        assert!(c.input.len() <= bound, "input past its bound");
        if let Phase::Body(r) = &c.phase {
            assert!(
                r.exchange.request.body().len() <= max_body,
                "body past its limit"
            );
        }
        while let Some(mut req) = c.next_request(&now) {
            assert!(req.exchange.request.body().len() <= max_body);
            req.exchange.response.body_mut().extend_from_slice(b"ok");
            c.respond(req.id, req.exchange, &now);
            progressed = true;
        }
        let n = c.output().len();
        if n > 0 {
            c.wrote(n, &now);
            progressed = true;
        }
        assert!(
            progressed || pos == wire.len(),
            "stuck: not reading, and nothing to serve or write: {c:?}"
        );
        if pos == wire.len() && !progressed {
            // Out of input: the client goes away; the machine must end.
            c.read_closed(&now);
            idle_rounds += 1;
            assert!(idle_rounds < 4, "stuck after the end of input: {c:?}");
        }
        ms += 1;
    }
}
