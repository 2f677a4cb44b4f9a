//! The worker pool: threads that run requests the event loops hand over
//! through one bounded queue, and send each answer back to the loop that
//! owns the connection, waking it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::Receiver;
use synkit_core::Context;
use synkit_core::time::Clock;

use super::messages::{Done, Job, Mailbox, Reply};
use super::parts::{Deliver, Parts};
use super::{Failure, Serve, Session, Shared};

/// Serves the exchange's request under `cx`, turning a panic into the
/// session's 500-like answer, counted and logged with what the request was.
pub(crate) fn serve_guarded<S: Session, H: Serve<S>>(
    shared: &Shared,
    handler: &H,
    cx: &Context<'_>,
    exchange: &mut S::Exchange,
    parts: Option<&Parts<S::Part>>,
) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| handler.handle(cx, exchange, parts))) {
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
            serve_guarded::<S, H>(shared, handler, &cx, &mut exchange, Some(&parts));
        } else {
            serve_guarded::<S, H>(shared, handler, &cx, &mut exchange, None);
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
