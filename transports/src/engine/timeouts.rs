//! The timeouts the engine enforces on every connection, whatever its
//! protocol: a connection silent past the idle timeout, a request begun and
//! not received within the read timeout, a peer that takes none of our
//! bytes within the write timeout.
//!
//! The session says what the connection is doing ([`Activity`]); the
//! engine keeps the clocks ([`Clocks`]) and, when one runs out, tells the
//! session ([`Session::timed_out`](super::Session::timed_out)) so it can
//! say goodbye in its protocol's words (HTTP/1.1's 408, HTTP/2's GOAWAY),
//! then closes once that is written. A write timeout closes at once:
//! nothing more can reach a peer that does not read.
//!
//! ```text
//!            begins a request            all of it received
//!   Idle ───────────────────▶ Reading ───────────────────▶ Serving
//!    ▲  idle timeout runs       read timeout runs              │ (no timeout: the
//!    └─────────────────────── answers all sent ◀───────────────┘  request's deadline)
//!   any state: bytes queued and none taken for the write timeout ─▶ closed
//! ```

use std::time::Duration;

use synkit_core::time::Instant;

/// What a connection is doing, as its session tells the engine: which
/// timeout runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activity {
    /// Nothing begun, nothing being served: the idle timeout runs.
    Idle,
    /// A request (a head, a frame, a call) begun and not all received:
    /// the read timeout runs.
    Reading,
    /// Requests are with the service and nothing is partly read: no
    /// timeout of the engine's runs (the requests' deadlines bound them).
    Serving,
}

/// Which of the engine's timeouts ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// Nothing happened on the connection for the idle timeout.
    Idle,
    /// A request was begun and not received within the read timeout.
    Read,
    /// Bytes waited for the peer, which took none, for the write timeout.
    Write,
}

/// How long each state may last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) idle: Duration,
    pub(crate) read: Duration,
    pub(crate) write: Duration,
}

/// One connection's clocks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clocks {
    activity: Activity,
    /// When `activity` began.
    since: Instant,
    /// Whether bytes wait to be written.
    pending: bool,
    /// When the bytes waiting began to wait, or the peer last took some.
    write_progress: Instant,
}

impl Clocks {
    /// The clocks of a connection accepted at `now`: idle.
    pub(crate) fn new(now: Instant) -> Clocks {
        Clocks {
            activity: Activity::Idle,
            since: now,
            pending: false,
            write_progress: now,
        }
    }

    /// What the connection does now, and whether bytes wait for the peer.
    pub(crate) fn observe(&mut self, activity: Activity, pending: bool, now: Instant) {
        if activity != self.activity {
            self.activity = activity;
            self.since = now;
        }
        if pending && !self.pending {
            self.write_progress = now;
        }
        self.pending = pending;
    }

    /// A request reached the service: idleness counts from here, even
    /// when the request is answered before the activity is next observed.
    pub(crate) fn requested(&mut self, now: Instant) {
        self.since = now;
    }

    /// The peer took some of our bytes.
    pub(crate) fn wrote(&mut self, now: Instant) {
        self.write_progress = now;
    }

    /// The timeout that has run out at `now`, if one has: the write
    /// timeout first, since it closes at once.
    pub(crate) fn due(&self, limits: &Limits, now: Instant) -> Option<Timeout> {
        if self.pending && now >= self.write_progress.saturating_add(limits.write) {
            return Some(Timeout::Write);
        }
        match self.activity {
            Activity::Idle if now >= self.since.saturating_add(limits.idle) => Some(Timeout::Idle),
            Activity::Reading if now >= self.since.saturating_add(limits.read) => {
                Some(Timeout::Read)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        idle: Duration::from_secs(60),
        read: Duration::from_secs(10),
        write: Duration::from_secs(30),
    };

    fn at(secs: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(secs)
    }

    #[test]
    fn an_idle_connection_times_out_after_the_idle_timeout() {
        let c = Clocks::new(at(0));
        assert_eq!(c.due(&LIMITS, at(59)), None);
        assert_eq!(c.due(&LIMITS, at(60)), Some(Timeout::Idle));
    }

    #[test]
    fn a_request_begun_has_the_read_timeout_from_its_start() {
        let mut c = Clocks::new(at(0));
        c.observe(Activity::Reading, false, at(50));
        // The same activity seen again does not restart its clock.
        c.observe(Activity::Reading, false, at(55));
        assert_eq!(c.due(&LIMITS, at(59)), None);
        assert_eq!(c.due(&LIMITS, at(60)), Some(Timeout::Read));
    }

    #[test]
    fn serving_runs_no_timeout_and_idleness_counts_from_the_last_answer() {
        let mut c = Clocks::new(at(0));
        c.observe(Activity::Reading, false, at(1));
        c.observe(Activity::Serving, false, at(2));
        assert_eq!(c.due(&LIMITS, at(10_000)), None);
        c.observe(Activity::Idle, false, at(10_000));
        assert_eq!(c.due(&LIMITS, at(10_059)), None);
        assert_eq!(c.due(&LIMITS, at(10_060)), Some(Timeout::Idle));
    }

    #[test]
    fn bytes_the_peer_does_not_take_time_out_whatever_the_activity() {
        let mut c = Clocks::new(at(0));
        c.observe(Activity::Serving, true, at(5));
        assert_eq!(c.due(&LIMITS, at(34)), None);
        assert_eq!(c.due(&LIMITS, at(35)), Some(Timeout::Write));
        // Some taken: the clock starts again.
        c.wrote(at(20));
        c.observe(Activity::Serving, true, at(20));
        assert_eq!(c.due(&LIMITS, at(49)), None);
        assert_eq!(c.due(&LIMITS, at(50)), Some(Timeout::Write));
        // All taken: no write timeout.
        c.observe(Activity::Serving, false, at(21));
        assert_eq!(c.due(&LIMITS, at(1000)), None);
    }

    #[test]
    fn each_request_restarts_the_idle_clock() {
        let mut c = Clocks::new(at(0));
        // Answered within one observation: the activity never left idle.
        c.requested(at(50));
        c.observe(Activity::Idle, false, at(50));
        assert_eq!(c.due(&LIMITS, at(109)), None);
        assert_eq!(c.due(&LIMITS, at(110)), Some(Timeout::Idle));
    }

    #[test]
    fn the_write_timeout_wins_when_both_are_due() {
        let mut c = Clocks::new(at(0));
        c.observe(Activity::Idle, true, at(0));
        assert_eq!(c.due(&LIMITS, at(100)), Some(Timeout::Write));
    }
}
