//! The worker pool: threads that run requests the event loops hand over
//! through one bounded queue, and send each answer back to the loop that
//! owns the connection, waking it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use crossbeam_channel::{Receiver, Sender};
use mio::{Token, Waker};
use synkit_core::time::Clock;
use synkit_core::{CancelToken, Context};

use super::parts::{CreditGuard, Deliver, Parts};
use super::{Failure, Serve, Session, Shared};

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

/// Serves the exchange's request under `cx`, turning a panic into the
/// session's 500-like answer, counted and logged with what the request was.
pub(crate) fn serve_guarded<S: Session, H: Serve<S>>(
    shared: &Shared,
    handler: &H,
    cx: &Context<'_>,
    exchange: &mut S::Exchange,
) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| handler.handle(cx, exchange))) {
        shared.stats.panics.fetch_add(1, Ordering::Relaxed);
        let what = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string payload");
        log::error!(
            "endpoint panicked serving {}: {what}",
            handler.describe(exchange)
        );
        handler.fail(exchange, Failure::Panicked);
    }
}

/// One worker: runs jobs until every loop has dropped the queue.
pub(crate) fn work<S: Session, H: Serve<S>>(
    shared: &Shared,
    handler: &H,
    jobs: &Receiver<Job<S::Exchange>>,
    mailboxes: &[Arc<Mailbox<S::Exchange>>],
) {
    while let Ok(job) = jobs.recv() {
        let Job {
            owner,
            conn,
            generation,
            id,
            mut exchange,
            deadline,
            cancel,
        } = job;
        let clock: &(dyn Clock + Sync) = &*shared.clock;
        let root = Context::new(clock);
        // One clock read for every time-based layer of this request.
        let began = root.with_now(clock.now());
        let timed = began.with_deadline(deadline);
        let cx = timed.with_cancel(&cancel);
        if cx.is_expired() {
            shared
                .stats
                .expired_in_queue
                .fetch_add(1, Ordering::Relaxed);
            handler.fail(&mut exchange, Failure::ExpiredInQueue);
        } else if S::STREAMS {
            // The call may answer in parts, through the loop's mailbox.
            let mailbox: Arc<dyn Deliver<S::Part>> =
                Arc::clone(&mailboxes[owner.min(mailboxes.len() - 1)]) as _;
            let parts = Parts {
                mailbox,
                conn,
                generation,
                id,
                credit: std::sync::OnceLock::new(),
            };
            let cx = cx.with_value(&parts);
            serve_guarded::<S, H>(shared, handler, &cx, &mut exchange);
        } else {
            serve_guarded::<S, H>(shared, handler, &cx, &mut exchange);
        }
        // Let go of the token before answering, so the loop can reuse it.
        drop(cancel);
        let Some(mailbox) = mailboxes.get(owner) else {
            continue;
        };
        let done = Done {
            conn,
            generation,
            id,
            exchange,
            part: Reply::Whole,
        };
        mailbox.deliver(done);
    }
}
