//! The worker pool: threads that run requests the event loops hand over
//! through one bounded queue, and send each answer back to the loop that
//! owns the connection, waking it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, Sender};
use mio::{Token, Waker};
use synkit_core::time::Clock;
use synkit_core::{CancelToken, Context};

use super::{Failure, Handle, Session, Shared};

/// A request on its way to a worker.
pub(crate) struct Job<Req> {
    /// Which event loop owns the connection.
    pub(crate) owner: usize,
    pub(crate) conn: Token,
    pub(crate) generation: u64,
    pub(crate) id: u32,
    pub(crate) request: Req,
    pub(crate) deadline: synkit_core::time::Instant,
    pub(crate) cancel: Arc<CancelToken>,
}

/// A worker's answer on its way back to the event loop.
pub(crate) struct Done<Resp> {
    pub(crate) conn: Token,
    pub(crate) generation: u64,
    pub(crate) id: u32,
    pub(crate) response: Resp,
}

/// Where a loop receives its answers, as the workers see it.
pub(crate) struct Mailbox<Resp> {
    pub(crate) done: Sender<Done<Resp>>,
    pub(crate) waker: Arc<Waker>,
}

/// Runs `req` under `cx`, turning a panic into the session's 500-like
/// answer, counted and logged with the request's label.
pub(crate) fn serve_guarded<S: Session, H: Handle<S>>(
    shared: &Shared,
    handler: &H,
    cx: &Context<'_>,
    req: S::Request,
) -> S::Response {
    let label = handler.label(&req);
    match catch_unwind(AssertUnwindSafe(|| handler.handle(cx, req))) {
        Ok(resp) => resp,
        Err(panic) => {
            shared.stats.panics.fetch_add(1, Ordering::Relaxed);
            let what = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a non-string payload");
            log::error!("endpoint panicked serving {label}: {what}");
            S::failure(Failure::Panicked)
        }
    }
}

/// One worker: runs jobs until every loop has dropped the queue.
pub(crate) fn work<S: Session, H: Handle<S>>(
    shared: &Shared,
    handler: &H,
    jobs: &Receiver<Job<S::Request>>,
    mailboxes: &[Mailbox<S::Response>],
) {
    while let Ok(job) = jobs.recv() {
        let Job {
            owner,
            conn,
            generation,
            id,
            request,
            deadline,
            cancel,
        } = job;
        let clock: &(dyn Clock + Sync) = &*shared.clock;
        let root = Context::new(clock);
        // One clock read for every time-based layer of this request.
        let began = root.with_now(clock.now());
        let timed = began.with_deadline(deadline);
        let cx = timed.with_cancel(&cancel);
        let response = if cx.is_expired() {
            shared
                .stats
                .expired_in_queue
                .fetch_add(1, Ordering::Relaxed);
            S::failure(Failure::ExpiredInQueue)
        } else {
            serve_guarded::<S, H>(shared, handler, &cx, request)
        };
        // Let go of the token before answering, so the loop can reuse it.
        drop(cancel);
        let Some(mailbox) = mailboxes.get(owner) else {
            continue;
        };
        let done = Done {
            conn,
            generation,
            id,
            response,
        };
        if mailbox.done.send(done).is_ok() {
            let _ = mailbox.waker.wake();
        }
    }
}
