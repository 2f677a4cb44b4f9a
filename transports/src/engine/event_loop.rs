//! One mio event loop: it owns a set of sockets, moves bytes between them
//! and their [`Session`]s, runs or hands over the requests the sessions
//! produce, and fires their timers. It knows no protocol.
//!
//! It cannot spin: it reads from a socket only while the session wants
//! bytes and the socket has them, writes only what the session queued, and
//! gives each connection a bounded number of rounds per turn before moving
//! on (a connection with work left is queued to resume next turn, so one
//! flooding client cannot starve the others).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use synkit_core::time::{Clock, Instant};
use synkit_core::{CancelToken, Context};

use super::messages::{Done, Job, Mailbox, Reply};
use super::pool::serve_guarded;
use super::timeouts::{Clocks, Timeout};
use super::{Failure, Incoming, Now, Serve, Session, Shared};

pub(crate) const LISTENER: Token = Token(usize::MAX - 1);
pub(crate) const WAKER: Token = Token(usize::MAX - 2);
/// How often timers are checked; timeouts fire within this of their due
/// time.
const TICK: Duration = Duration::from_millis(100);
/// Bytes read per `read` call, into the loop's one scratch buffer.
const READ_CHUNK: usize = 16 * 1024;
/// Rounds (read, dispatch, write) one connection gets per turn before the
/// loop moves on to others.
const ROUNDS_PER_TURN: usize = 16;

struct Conn<S> {
    stream: TcpStream,
    generation: u64,
    session: S,
    /// The socket may have bytes to read (no `WouldBlock` since the last
    /// readable event).
    readable: bool,
    /// The socket may take more bytes (no `WouldBlock` since the last
    /// writable event).
    writable: bool,
    /// Whether the loop asked to hear when the socket becomes writable:
    /// only while a write is stuck, since every ACK would otherwise wake
    /// the loop for nothing.
    watching_writes: bool,
    /// The cancellation tokens of the requests with a worker, by request
    /// id (one for HTTP/1.1; one per call in flight for multiplexed
    /// protocols).
    cancels: Vec<(u32, Arc<CancelToken>)>,
    /// A token no one else holds any more, kept for the next request.
    spare_cancel: Option<Arc<CancelToken>>,
    /// The engine's timeouts for this connection.
    clocks: Clocks,
    /// Where the connection is on its way out.
    life: Life,
}

/// A connection's way to its close.
///
/// ```text
///          idle or read timeout          goodbye written
///   Open ───────────────────────▶ Expiring ──────────────┐
///    │   session done (wants_close)                       ▼
///    └──────────────────────────────────────────────▶ Lingering ──▶ closed
///   any state: write timeout, socket error ───────────────────────▶ closed
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    /// Serving as its session decides.
    Open,
    /// An idle or read timeout ran out and the session was told: the
    /// connection closes once its goodbye is written.
    Expiring,
    /// The session is done: our side is shut, and what the client still
    /// sends is read and dropped until it closes or this instant, so that
    /// the kernel does not reset the connection under the last response
    /// (a client still sending a refused body would never read its 413).
    Lingering(Instant),
}

/// How long a finished connection waits for the client to close.
const LINGER: Duration = Duration::from_secs(1);
/// How much a lingering connection reads and drops before giving up.
const LINGER_BYTES: usize = 1024 * 1024;

/// What one write did to a connection.
enum Wrote {
    /// Bytes went out (or the write is to be tried again).
    Progress,
    /// Nothing was written: nothing to write, or the socket is full.
    Nothing,
    /// The connection is closed.
    Closed,
}

/// Where requests go: the loop thread itself, or the worker pool.
pub(crate) enum Dispatch<X> {
    /// Run on the loop thread.
    Inline,
    /// Hand to the workers, whose answers come back on `done`.
    Pool {
        /// This loop's index among the loops, named in every job.
        owner: usize,
        jobs: Sender<Job<X>>,
        /// Where this loop's answers arrive; its `idle` flag is the loop's.
        mailbox: Arc<Mailbox<X>>,
    },
}

/// An event loop serving sessions of type `S` with handler `H`.
pub(crate) struct EventLoop<S: Session, H, F> {
    poll: Poll,
    listener: Option<TcpListener>,
    conns: Vec<Option<Conn<S>>>,
    free: Vec<usize>,
    open: usize,
    next_generation: u64,
    shared: Arc<Shared>,
    new_session: F,
    handler: Arc<H>,
    dispatch: Dispatch<S::Exchange>,
    done: Receiver<Done<S::Exchange>>,
    /// Connections with work left after their rounds ran out.
    resume: VecDeque<(usize, u64)>,
    scratch: Box<[u8]>,
    shutdown_deadline: Option<Instant>,
}

impl<S, H, F> EventLoop<S, H, F>
where
    S: Session,
    H: Serve<S>,
    F: FnMut(Instant) -> S,
{
    pub(crate) fn new(
        poll: Poll,
        listener: TcpListener,
        shared: Arc<Shared>,
        new_session: F,
        handler: Arc<H>,
        dispatch: Dispatch<S::Exchange>,
        done: Receiver<Done<S::Exchange>>,
    ) -> EventLoop<S, H, F> {
        EventLoop {
            poll,
            listener: Some(listener),
            conns: Vec::new(),
            free: Vec::new(),
            open: 0,
            next_generation: 0,
            shared,
            new_session,
            handler,
            dispatch,
            done,
            resume: VecDeque::with_capacity(64),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            shutdown_deadline: None,
        }
    }

    fn now(&self) -> Now {
        Now::read(self.shared.clock.now())
    }

    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut last_sweep = self.shared.clock.now();
        loop {
            let mut timeout = if self.resume.is_empty() {
                TICK
            } else {
                Duration::ZERO
            };
            let idle = match &self.dispatch {
                Dispatch::Pool { mailbox, .. } if !timeout.is_zero() => Some(&mailbox.idle),
                _ => None,
            };
            if let Some(idle) = idle {
                // About to block: from here on workers must wake us. An
                // answer that came before the flag was seen is taken now.
                idle.store(true, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                if !self.done.is_empty() {
                    timeout = Duration::ZERO;
                }
            }
            let polled = self.poll.poll(&mut events, Some(timeout));
            if let Some(idle) = idle {
                idle.store(false, Ordering::Relaxed);
            }
            if let Err(e) = polled {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::error!("event loop poll failed, stopping: {e}");
                break;
            }
            let now = self.now();
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(&now),
                    WAKER => self.drain_done(&now),
                    Token(i) => {
                        if let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) {
                            c.readable |= event.is_readable() || event.is_read_closed();
                            c.writable |= event.is_writable() || event.is_write_closed();
                            self.drive(i, &now);
                        }
                    }
                }
            }
            for _ in 0..self.resume.len() {
                let Some((i, generation)) = self.resume.pop_front() else {
                    break;
                };
                if self.generation_of(i) == Some(generation) {
                    self.drive(i, &now);
                }
            }
            // Workers wake a busy loop only when it is about to block, so
            // answers are looked for every turn.
            if matches!(self.dispatch, Dispatch::Pool { .. }) {
                self.drain_done(&now);
            }
            if now.at.saturating_duration_since(last_sweep) >= TICK {
                last_sweep = now.at;
                self.sweep(&now);
            }
            if self.shared.shutting_down.load(Ordering::Acquire) && self.shut_down_step(&now) {
                break;
            }
        }
        // Past the grace period: whatever still runs is told to stop, and
        // every connection left is closed.
        for i in 0..self.conns.len() {
            self.close(i);
        }
    }

    fn generation_of(&self, i: usize) -> Option<u64> {
        self.conns
            .get(i)
            .and_then(Option::as_ref)
            .map(|c| c.generation)
    }

    /// Moves shutdown along; true once every connection is gone or the grace
    /// period is over.
    fn shut_down_step(&mut self, now: &Now) -> bool {
        if self.shutdown_deadline.is_none() {
            let grace = Duration::from_nanos(self.shared.grace_nanos.load(Ordering::Acquire));
            self.shutdown_deadline = Some(now.at + grace);
            if let Some(mut listener) = self.listener.take() {
                let _ = self.poll.registry().deregister(&mut listener);
            }
            for i in 0..self.conns.len() {
                if let Some(c) = self.conns[i].as_mut() {
                    c.session.shutdown(now);
                    self.drive(i, now);
                }
            }
        }
        self.open == 0 || self.shutdown_deadline.is_some_and(|d| now.at >= d)
    }

    fn accept(&mut self, now: &Now) {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            let (mut stream, _) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors and the like: try again on the
                    // next readiness, do not spin.
                    log::warn!("accept failed: {e}");
                    return;
                }
            };
            // The limit is the whole server's, not this loop's share.
            if self.shared.open.fetch_add(1, Ordering::AcqRel) >= self.shared.max_connections {
                self.shared.open.fetch_sub(1, Ordering::AcqRel);
                self.shared
                    .stats
                    .refused_connections
                    .fetch_add(1, Ordering::Relaxed);
                let _ = stream.write_all(S::REFUSAL);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let index = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            if self
                .poll
                .registry()
                .register(&mut stream, Token(index), Interest::READABLE)
                .is_err()
            {
                self.free.push(index);
                self.shared.open.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
            self.next_generation += 1;
            self.conns[index] = Some(Conn {
                stream,
                generation: self.next_generation,
                session: (self.new_session)(now.at),
                readable: false,
                writable: true,
                watching_writes: false,
                cancels: Vec::new(),
                spare_cancel: None,
                clocks: Clocks::new(now.at),
                life: Life::Open,
            });
            self.open += 1;
            self.shared
                .stats
                .connections
                .fetch_add(1, Ordering::Release);
        }
    }

    /// Runs rounds of read, dispatch and write on connection `i` until it
    /// waits on something outside the loop, or its rounds run out; then
    /// sets its clocks by what it is doing.
    fn drive(&mut self, i: usize, now: &Now) {
        self.drive_rounds(i, now);
        if let Some(c) = self.conns[i].as_mut()
            && !matches!(c.life, Life::Lingering(_))
        {
            let pending = !c.session.output().is_empty();
            c.clocks.observe(c.session.activity(), pending, now.at);
        }
    }

    fn drive_rounds(&mut self, i: usize, now: &Now) {
        if self.conns[i]
            .as_ref()
            .is_some_and(|c| matches!(c.life, Life::Lingering(_)))
        {
            self.linger(i);
            return;
        }
        for _ in 0..ROUNDS_PER_TURN {
            let Some(c) = self.conns[i].as_mut() else {
                return;
            };
            let mut progressed = Self::read_once(c, &mut self.scratch, now);
            while let Some(incoming) = self.conns[i]
                .as_mut()
                .and_then(|c| c.session.next_request(now))
            {
                self.shared.stats.requests.fetch_add(1, Ordering::Relaxed);
                self.dispatch(i, incoming, now);
                progressed = true;
            }
            match self.write_once(i, now) {
                Wrote::Closed => return,
                Wrote::Progress => progressed = true,
                Wrote::Nothing => {}
            }
            let Some(c) = self.conns[i].as_mut() else {
                return;
            };
            // A connection told its time is up closes once its goodbye is
            // out, whatever its session would rather do.
            if c.session.wants_close()
                || (c.life == Life::Expiring && c.session.output().is_empty())
            {
                let _ = c.stream.shutdown(std::net::Shutdown::Write);
                c.life = Life::Lingering(now.at + LINGER);
                self.linger(i);
                return;
            }
            if !progressed {
                return;
            }
        }
        // Rounds ran out with work possibly left: come back next turn.
        if let Some(generation) = self.generation_of(i) {
            self.resume.push_back((i, generation));
        }
    }

    /// Writes what connection `i`'s session has for its peer, once, and
    /// stops or starts watching for writability as the output needs.
    fn write_once(&mut self, i: usize, now: &Now) -> Wrote {
        let Some(c) = self.conns[i].as_mut() else {
            return Wrote::Closed;
        };
        let mut wrote = Wrote::Nothing;
        if c.writable && !c.session.output().is_empty() {
            match c.stream.write(c.session.output()) {
                Ok(0) => {
                    self.close(i);
                    return Wrote::Closed;
                }
                Ok(n) => {
                    c.session.wrote(n, now);
                    c.clocks.wrote(now.at);
                    wrote = Wrote::Progress;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    c.writable = false;
                    if !c.watching_writes {
                        let both = Interest::READABLE | Interest::WRITABLE;
                        c.watching_writes = self
                            .poll
                            .registry()
                            .reregister(&mut c.stream, Token(i), both)
                            .is_ok();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => wrote = Wrote::Progress,
                Err(_) => {
                    self.close(i);
                    return Wrote::Closed;
                }
            }
        }
        if c.watching_writes && c.session.output().is_empty() {
            c.watching_writes = self
                .poll
                .registry()
                .reregister(&mut c.stream, Token(i), Interest::READABLE)
                .is_err();
        }
        wrote
    }

    /// One read from connection `c`'s socket into its session, if it
    /// may have bytes and the session wants them; true if that moved
    /// anything.
    fn read_once(c: &mut Conn<S>, scratch: &mut [u8], now: &Now) -> bool {
        if !c.readable || !c.session.wants_read() {
            return false;
        }
        match c.stream.read(scratch) {
            Ok(0) => {
                c.readable = false;
                Self::read_ended(c, now);
            }
            Ok(n) => {
                c.session.received(&scratch[..n], now);
                while let Some(id) = c.session.take_cancelled() {
                    if let Some((_, cancel)) = c.cancels.iter().find(|(i, _)| *i == id) {
                        cancel.cancel();
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                c.readable = false;
                return false;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                c.readable = false;
                Self::read_ended(c, now);
            }
        }
        true
    }

    /// Reads and drops what a finished connection's client still sends;
    /// closes at its end of stream, an error, or too many bytes.
    fn linger(&mut self, i: usize) {
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        let mut dropped = 0;
        loop {
            match c.stream.read(&mut self.scratch) {
                Ok(n) if n > 0 && dropped < LINGER_BYTES => dropped += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        self.close(i);
    }

    /// The client sent its last byte (or broke the connection): the session
    /// is told, and a request with a worker is cancelled if the session
    /// wants that.
    fn read_ended(c: &mut Conn<S>, now: &Now) {
        c.session.read_closed(now);
        if c.session.cancel_on_read_close() {
            for (_, cancel) in &c.cancels {
                cancel.cancel();
            }
        }
    }

    fn dispatch(&mut self, i: usize, incoming: Incoming<S::Exchange>, now: &Now) {
        let Incoming {
            id,
            mut exchange,
            deadline,
        } = incoming;
        if let Some(c) = self.conns[i].as_mut() {
            c.clocks.requested(now.at);
        }
        match &self.dispatch {
            Dispatch::Inline => {
                let clock: &(dyn Clock + Sync) = &*self.shared.clock;
                let root = Context::new(clock);
                // The loop turn's clock reading serves every time-based
                // layer of this request.
                let began = root.with_now(now.at);
                let cx = began.with_deadline(deadline);
                if cx.is_expired() {
                    self.handler.fail(&mut exchange, Failure::ExpiredInQueue);
                } else {
                    serve_guarded::<S, H>(&self.shared, &*self.handler, &cx, &mut exchange, None);
                }
                // Inline endpoints do not block: the turn's reading still
                // stands for the answer's timers.
                if let Some(c) = self.conns[i].as_mut() {
                    c.session.respond(id, exchange, now);
                }
            }
            Dispatch::Pool { owner, jobs, .. } => {
                let Some(c) = self.conns[i].as_mut() else {
                    return;
                };
                let generation = c.generation;
                let cancel = c
                    .spare_cancel
                    .take()
                    .unwrap_or_else(|| Arc::new(CancelToken::new()));
                let job = Job {
                    owner: *owner,
                    conn: Token(i),
                    generation,
                    id,
                    exchange,
                    deadline,
                    cancel: Arc::clone(&cancel),
                };
                match jobs.try_send(job) {
                    Ok(()) => {
                        if let Some(c) = self.conns[i].as_mut() {
                            c.cancels.push((id, cancel));
                        }
                    }
                    Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                        self.shared.stats.overloaded.fetch_add(1, Ordering::Relaxed);
                        let mut exchange = job.exchange;
                        self.handler.fail(&mut exchange, Failure::Overloaded);
                        if let Some(c) = self.conns[i].as_mut() {
                            c.spare_cancel = Some(cancel);
                            c.session.respond(id, exchange, now);
                        }
                    }
                }
            }
        }
    }

    fn drain_done(&mut self, now: &Now) {
        while let Ok(done) = self.done.try_recv() {
            let i = done.conn.0;
            let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            if c.generation != done.generation {
                continue;
            }
            if let Reply::Part(credit) = done.part {
                c.session.respond_part(done.id, done.exchange, credit, now);
                self.drive(i, now);
                continue;
            }
            // The worker let go of its handle before answering: reuse the
            // token unless someone still holds it.
            let mine = c.cancels.iter().position(|(id, _)| *id == done.id);
            if let Some(mut token) = mine.map(|at| c.cancels.swap_remove(at).1)
                && let Some(exclusive) = Arc::get_mut(&mut token)
            {
                exclusive.reset();
                c.spare_cancel = Some(token);
            }
            c.session.respond(done.id, done.exchange, now);
            self.drive(i, now);
        }
    }

    /// Fires the timers that are due.
    fn sweep(&mut self, now: &Now) {
        for i in 0..self.conns.len() {
            let Some(c) = self.conns[i].as_mut() else {
                continue;
            };
            if let Life::Lingering(until) = c.life {
                if now.at >= until {
                    self.close(i);
                }
                continue;
            }
            match c.clocks.due(&self.shared.timeouts, now.at) {
                Some(Timeout::Write) => {
                    // The peer takes nothing: no goodbye can reach it.
                    self.shared
                        .stats
                        .timed_out_writes
                        .fetch_add(1, Ordering::Relaxed);
                    self.close(i);
                    continue;
                }
                Some(timeout) if c.life == Life::Open => {
                    let counter = match timeout {
                        Timeout::Read => &self.shared.stats.timed_out_reads,
                        _ => &self.shared.stats.timed_out_idle,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    c.life = Life::Expiring;
                    c.session.timed_out(timeout, now);
                    self.drive(i, now);
                    continue;
                }
                _ => {}
            }
            if c.session.next_timer().is_some_and(|at| at <= now.at) {
                c.session.on_timer(now);
                self.drive(i, now);
            }
        }
    }

    fn close(&mut self, i: usize) {
        if let Some(mut c) = self.conns.get_mut(i).and_then(Option::take) {
            for (_, cancel) in &c.cancels {
                cancel.cancel();
            }
            let _ = self.poll.registry().deregister(&mut c.stream);
            self.free.push(i);
            self.open -= 1;
            self.shared.open.fetch_sub(1, Ordering::AcqRel);
            self.shared.stats.closed.fetch_add(1, Ordering::Release);
        }
    }
}
