//! Waiting for a call's answer on a channel without outliving the caller's
//! wish for it: until a deadline, noticing cancellation within a slice.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use synkit_core::Context;

/// How a wait ended without an answer.
pub(crate) enum Ended {
    /// The sending side is gone.
    Closed,
    /// The context says no more (`Cancelled`, or its deadline passed).
    Context(synkit_core::Error),
    /// `until` came.
    TimedOut,
}

/// How soon a cancelled context is noticed.
const SLICE: Duration = Duration::from_millis(20);

/// The next message on `rx`, waiting no later than `until` and no longer
/// than `cx` wants it.
pub(crate) fn answer<T>(rx: &Receiver<T>, cx: &Context<'_>, until: Instant) -> Result<T, Ended> {
    loop {
        let slice = until.saturating_duration_since(Instant::now()).min(SLICE);
        match rx.recv_timeout(slice) {
            Ok(answer) => return Ok(answer),
            Err(RecvTimeoutError::Disconnected) => return Err(Ended::Closed),
            Err(RecvTimeoutError::Timeout) => {}
        }
        cx.check().map_err(Ended::Context)?;
        if Instant::now() >= until {
            return Err(Ended::TimedOut);
        }
    }
}
