//! The fuzz target's driver for the HTTP/2 connection, also run by the
//! unit tests on known streams.

use synkit_core::time::Duration;

use super::{Connection, MAX_CONCURRENT_STREAMS, Options, connection};
use crate::engine::fuzz;
use crate::h2::frame;
use crate::h2::settings::DEFAULT_MAX_FRAME;

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
    let mut c = connection(Options::new(Duration::from_secs(5), max_body));
    let check = |c: &Connection| {
        assert!(c.buffered() < 9 + DEFAULT_MAX_FRAME, "input past one frame");
        assert!(
            c.open_streams() <= MAX_CONCURRENT_STREAMS as usize,
            "too many streams"
        );
        assert!(
            c.streams().all(|(_, s)| s.request.body.len() <= max_body),
            "body past its limit"
        );
    };
    let answer = |x: &mut crate::h2::Exchange| {
        assert!(x.request.body.len() <= max_body);
        x.response.status = 200;
        x.response.body = b"ok".to_vec();
        x.response.trailers = vec![("x-checksum".into(), "0".into())].into();
    };
    // Answers may wait for window the client never gives: nothing is
    // stuck but the client.
    fuzz::drive(&mut c, &splits, &wire, true, check, answer);
}
