//! The fuzz targets' driver for any session: the client's bytes in, in
//! chunks of the sizes the fuzzer chose, every request answered, every
//! byte written taken, the session's own invariants checked each turn,
//! until it closes.

use std::fmt::Debug;

use synkit_core::time::Instant;

use super::{Now, Session};

/// Drives `c` through `wire` in chunks of the sizes in `splits` (cycled),
/// a millisecond a turn, calling `check` after each read and `answer` on
/// each request. Once the input has run out the client half-closes and
/// the session must end within a few idle turns — unless
/// `may_wait_at_end` (answers may wait for flow-control window the client
/// never gives: only the client is stuck). Before the end, a session
/// that neither reads, serves nor writes is stuck unless `may_wait_at_end`.
pub(crate) fn drive<S: Session + Debug>(
    c: &mut S,
    splits: &[usize],
    wire: &[u8],
    may_wait_at_end: bool,
    mut check: impl FnMut(&S),
    mut answer: impl FnMut(&mut S::Exchange),
) {
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
        check(c);
        while c.take_cancelled().is_some() {}
        while let Some(mut req) = c.next_request(&now) {
            answer(&mut req.exchange);
            c.respond(req.id, req.exchange, &now);
            progressed = true;
        }
        let n = c.output().len();
        if n > 0 {
            c.wrote(n, &now);
            progressed = true;
        }
        assert!(
            may_wait_at_end || progressed || pos == wire.len(),
            "stuck: not reading, and nothing to serve or write: {c:?}"
        );
        if pos == wire.len() && !progressed {
            // Out of input: the client goes away; the machine must end.
            c.read_closed(&now);
            idle_rounds += 1;
            if idle_rounds > 3 {
                assert!(may_wait_at_end, "stuck after the end of input: {c:?}");
                break;
            }
        }
        ms += 1;
    }
}
