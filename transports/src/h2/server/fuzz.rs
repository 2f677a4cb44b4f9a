//! The fuzz target's driver for the HTTP/2 connection, also run by the
//! unit tests on known streams.

use synkit_core::time::{Duration, Instant};

use super::{Connection, MAX_CONCURRENT_STREAMS, MAX_FRAME};
use crate::engine::{Now, Session};
use crate::h2::frame;

/// Drives a connection through the preface and then `bytes`, the first
/// eight of which choose the split sizes, answering every request; checks
/// that it never panics, keeps its input, streams and bodies within their
/// bounds, and never gets stuck.
pub(crate) fn fuzz_stream(bytes: &[u8]) {
    let (splits, rest) = bytes.split_at(bytes.len().min(8));
    let splits: Vec<usize> = splits.iter().map(|&b| usize::from(b) + 1).collect();
    let mut wire = frame::PREFACE.to_vec();
    wire.extend_from_slice(rest);
    let max_body = 4096;
    let mut c = Connection::new(Duration::from_secs(5), max_body);
    let mut split = splits.iter().cycle();
    let mut pos = 0;
    let mut ms = 0u64;
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
        assert!(c.input.len() < 9 + MAX_FRAME, "input past one frame");
        assert!(
            c.streams.len() <= MAX_CONCURRENT_STREAMS as usize,
            "too many streams"
        );
        assert!(
            c.streams.values().all(|s| s.request.body.len() <= max_body),
            "body past its limit"
        );
        while c.take_cancelled().is_some() {}
        while let Some(mut req) = c.next_request(&now) {
            assert!(req.exchange.request.body.len() <= max_body);
            req.exchange.response.status = 200;
            req.exchange.response.body = b"ok".to_vec();
            req.exchange.response.trailers = vec![("grpc-status".into(), "0".into())].into();
            c.respond(req.id, req.exchange, &now);
            progressed = true;
        }
        let n = c.output().len();
        if n > 0 {
            c.wrote(n, &now);
            progressed = true;
        }
        if pos == wire.len() && !progressed {
            // Out of input: the client goes away; the machine must end.
            c.read_closed(&now);
            idle_rounds += 1;
            if idle_rounds > 3 {
                // Answers may wait for window the client never gives:
                // nothing is stuck but the client.
                break;
            }
        }
        ms += 1;
    }
}
