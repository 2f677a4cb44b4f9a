//! Answers sent in parts: a worker serving a streaming call hands the loop
//! each part as it is made, and waits when the client reads slower than
//! the service writes.
//!
//! The loop never waits for a worker, so the waiting is the worker's: each
//! streaming call has a [`Credit`], the bytes its parts put in the session's
//! queue and not yet written out. The worker adds a part's bytes before
//! handing it over and, past [`QUEUED_AT_MOST`], waits; the session takes
//! bytes off as it writes them within the peer's flow-control window. The
//! session holds the credit through a [`CreditGuard`] that closes it when
//! the stream goes (reset, connection closed, answer finished), which wakes
//! a waiting worker to find its call is over.

use std::sync::{Arc, Condvar, Mutex, OnceLock};

use mio::Token;
use synkit_core::Context;

use super::messages::{Done, Mailbox, Reply};

/// A streaming call's bytes queued beyond this make its worker wait.
pub(crate) const QUEUED_AT_MOST: usize = 256 << 10;

/// Why a part could not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// The stream is gone: reset by the client, or its connection closed.
    Closed,
    /// The call's deadline passed, or it was cancelled, while it waited.
    Expired,
}

/// One streaming call's queued bytes, shared by its worker and its session.
#[derive(Debug, Default)]
pub(crate) struct Credit {
    /// (bytes queued, closed).
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl Credit {
    /// The session wrote `n` of the call's bytes out.
    pub(crate) fn sent(&self, n: usize) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let was = state.0;
        state.0 = state.0.saturating_sub(n);
        if was >= QUEUED_AT_MOST && state.0 < QUEUED_AT_MOST {
            self.changed.notify_all();
        }
    }

    fn close(&self) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.1 = true;
        self.changed.notify_all();
    }

    /// Waits (within `cx`'s deadline, noticing its cancellation) until the
    /// queue has room, then counts `n` more bytes in it.
    fn reserve(&self, cx: &Context<'_>, n: usize) -> Result<(), Stopped> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if state.1 {
                return Err(Stopped::Closed);
            }
            if cx.check().is_err() {
                return Err(Stopped::Expired);
            }
            if state.0 < QUEUED_AT_MOST {
                state.0 = state.0.saturating_add(n);
                return Ok(());
            }
            // A reset or a closed connection closes the credit, which wakes
            // this at once; a cancellation from elsewhere is seen within a
            // slice.
            let slice = std::time::Duration::from_millis(50);
            let wait = cx.remaining().map_or(slice, |r| r.min(slice));
            state = self
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Whether the session let go of it.
    #[cfg(test)]
    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().unwrap().1
    }

    /// Bytes queued and not yet written.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.state.lock().unwrap().0
    }

    /// A credit with `n` bytes queued, and the session's hold on it.
    #[cfg(test)]
    pub(crate) fn held(n: usize) -> (Arc<Credit>, CreditGuard) {
        let credit = Arc::new(Credit::default());
        credit.state.lock().unwrap().0 = n;
        (Arc::clone(&credit), CreditGuard(credit))
    }
}

/// The session's hold on a streaming call's credit: dropping it (the stream
/// is finished or gone) closes the credit.
#[derive(Debug)]
pub(crate) struct CreditGuard(Arc<Credit>);

impl CreditGuard {
    /// The session wrote `n` of the call's bytes out.
    pub(crate) fn sent(&self, n: usize) {
        self.0.sent(n);
    }
}

impl Drop for CreditGuard {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A loop's mailbox as the sender of parts `P` sees it: whatever the
/// session's exchange type, a part becomes one.
pub(crate) trait Deliver<P>: Send + Sync {
    fn deliver_part(&self, done: Done<P>);
}

impl<P, X: From<P> + Send> Deliver<P> for Mailbox<X> {
    fn deliver_part(&self, done: Done<P>) {
        self.deliver(Done {
            conn: done.conn,
            generation: done.generation,
            id: done.id,
            exchange: X::from(done.exchange),
            part: done.part,
        });
    }
}

/// How the worker serving one request sends its answer in parts of type
/// `P`. The engine puts it in the request's [`Context`] for sessions that
/// stream; the protocol layer finds it there by the part type it knows,
/// whichever session (one protocol, or several on one port) carries it.
pub(crate) struct Parts<P: Send + 'static> {
    pub(crate) mailbox: Arc<dyn Deliver<P>>,
    pub(crate) conn: Token,
    pub(crate) generation: u64,
    pub(crate) id: u32,
    /// Made with the first part.
    pub(crate) credit: OnceLock<Arc<Credit>>,
}

impl<P: Send + 'static> Parts<P> {
    /// Hands `part` (`bytes` of output, as the session will count them) to
    /// the session, once its queue has room: waits while the client reads
    /// slower than the call writes.
    pub(crate) fn send(&self, cx: &Context<'_>, part: P, bytes: usize) -> Result<(), Stopped> {
        let mut guard = None;
        let credit = self.credit.get_or_init(|| {
            let credit = Arc::new(Credit::default());
            guard = Some(CreditGuard(Arc::clone(&credit)));
            credit
        });
        credit.reserve(cx, bytes)?;
        self.mailbox.deliver_part(Done {
            conn: self.conn,
            generation: self.generation,
            id: self.id,
            exchange: part,
            part: Reply::Part(guard),
        });
        Ok(())
    }
}

// The context holds values by shared reference across threads.
const _: fn() = || {
    fn sync<T: Sync>() {}
    sync::<Parts<Vec<u8>>>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use synkit_core::CancelToken;
    use synkit_core::time::{Duration, ManualClock, SystemClock};

    #[test]
    fn a_full_queue_waits_until_the_session_writes() {
        let credit = Arc::new(Credit::default());
        let clock = SystemClock;
        let root = Context::new(&clock);
        credit.reserve(&root, QUEUED_AT_MOST).unwrap();
        let writer = Arc::clone(&credit);
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            writer.sent(QUEUED_AT_MOST);
        });
        credit.reserve(&root, 10).unwrap();
        t.join().unwrap();
        assert_eq!(credit.state.lock().unwrap().0, 10);
    }

    #[test]
    fn a_closed_credit_stops_the_waiting_worker() {
        let credit = Arc::new(Credit::default());
        let clock = SystemClock;
        let root = Context::new(&clock);
        credit.reserve(&root, QUEUED_AT_MOST).unwrap();
        let guard = CreditGuard(Arc::clone(&credit));
        let t = std::thread::spawn(move || drop(guard));
        assert_eq!(credit.reserve(&root, 1), Err(Stopped::Closed));
        t.join().unwrap();
    }

    #[test]
    fn a_deadline_or_cancellation_ends_the_wait() {
        let credit = Credit::default();
        let clock = Arc::new(ManualClock::new());
        let root = Context::new(&*clock);
        credit.reserve(&root, QUEUED_AT_MOST).unwrap();
        let cx = root.with_timeout(Duration::from_millis(20));
        // The deadline passes on the manual clock while the worker waits.
        let ticker = Arc::clone(&clock);
        let t = std::thread::spawn(move || ticker.advance(Duration::from_millis(30)));
        assert_eq!(credit.reserve(&cx, 1), Err(Stopped::Expired));
        t.join().unwrap();
        let token = CancelToken::new();
        token.cancel();
        let cx = root.with_cancel(&token);
        assert_eq!(credit.reserve(&cx, 1), Err(Stopped::Expired));
    }
}
