//! What the event loops and the workers say to each other: a [`Job`] out
//! through the pool's one bounded queue, a [`Done`] back through the
//! owning loop's [`Mailbox`], which wakes the loop only when it sleeps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use crossbeam_channel::Sender;
use mio::{Token, Waker};
use synkit_core::CancelToken;

use super::parts::CreditGuard;

/// A request on its way to a worker.
pub(crate) struct Job<X> {
    /// Which event loop owns the connection.
    pub(crate) owner: usize,
    pub(crate) conn: Token,
    pub(crate) generation: u64,
    pub(crate) id: u32,
    pub(crate) exchange: X,
    pub(crate) deadline: synkit_core::time::Instant,
    pub(crate) cancel: Arc<CancelToken>,
}

/// A worker's answer on its way back to the event loop.
pub(crate) struct Done<X> {
    pub(crate) conn: Token,
    pub(crate) generation: u64,
    pub(crate) id: u32,
    pub(crate) exchange: X,
    /// Whether this is the whole answer (or its end) or a part of it.
    pub(crate) part: Reply,
}

/// What a worker's message to the loop is.
pub(crate) enum Reply {
    /// The whole answer, or the end of one sent in parts.
    Whole,
    /// A part, more to come; the first carries the session's hold on the
    /// call's credit.
    Part(Option<CreditGuard>),
}

/// Where a loop receives its answers, as the workers see it.
pub(crate) struct Mailbox<X> {
    pub(crate) done: Sender<Done<X>>,
    pub(crate) waker: Arc<Waker>,
    /// Raised by the loop just before it blocks in `poll`. Only then does
    /// an answer need a wake-up (an `eventfd` write and an `epoll` return):
    /// a busy loop looks at its answers every turn.
    pub(crate) idle: AtomicBool,
}

impl<X> Mailbox<X> {
    /// A mailbox sending on `done`, waking the loop through `waker`.
    pub(crate) fn new(done: Sender<Done<X>>, waker: Arc<Waker>) -> Mailbox<X> {
        Mailbox {
            done,
            waker,
            idle: AtomicBool::new(false),
        }
    }

    /// Hands `done` to the loop, waking it if it is blocked or about to be.
    pub(crate) fn deliver(&self, done: Done<X>) {
        if self.done.send(done).is_err() {
            return;
        }
        // Pairs with the fence in `EventLoop::run`: either the loop sees
        // this answer before it blocks, or this sees it idle and wakes it.
        fence(Ordering::SeqCst);
        if self.idle.load(Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }
}
