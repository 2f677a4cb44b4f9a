//! One connection to a NATS server, kept up by a reader thread: it answers
//! the server's pings, hands messages to their subscriptions (never
//! waiting on one: a subscription whose queue is full loses the message,
//! counted, as a NATS slow consumer does), routes replies to the requests
//! waiting for them, and, when the server goes away, fails the requests in
//! flight and dials again with backoff, subscribing again to everything.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use synkit_core::Context;

use super::proto::{self, Parser, ProtoError, ServerOp};
use super::{Message, NatsError, Options};
use crate::stop::{Backoff, Stop};
use crate::wait::{self, Ended};

/// A subscription as the reader sees it.
struct Sub {
    subject: String,
    queue: Option<String>,
    to: Sender<Message>,
    dropped: Arc<AtomicU64>,
}

/// What the reader and the callers share, under one lock.
#[derive(Default)]
struct Routes {
    subs: HashMap<u64, Sub>,
    /// Requests waiting for a reply, by inbox token.
    requests: HashMap<u64, Sender<Result<Message, NatsError>>>,
    /// Who waits for each `PONG`, in the order the `PING`s went.
    pongs: VecDeque<Option<Sender<()>>>,
    next_sid: u64,
}

pub(super) struct Inner {
    addrs: Vec<SocketAddr>,
    options: Options,
    /// Where operations are written; `None` while disconnected.
    writer: Mutex<Option<TcpStream>>,
    routes: Mutex<Routes>,
    /// `_INBOX.<random>.`: replies to this connection's requests.
    inbox: String,
    next_token: AtomicU64,
    connected: AtomicBool,
    reconnects: AtomicU64,
    stop: Stop,
    reader: Mutex<Option<JoinHandle<()>>>,
}

/// The subscription id every request's reply arrives on.
const INBOX_SID: u64 = 0;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection to a NATS server (or one of several): Go's `nats.Conn`.
/// Cheap to clone; the last clone dropped closes it.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
    _closer: Arc<Closer>,
}

/// Closes the connection when the last [`Connection`] clone goes.
struct Closer(Arc<Inner>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Connection {
    /// Connects to `urls` (`nats://host:port`, several separated by
    /// commas, tried in turn), waiting for the server to accept the
    /// connection; fails if none does within `options.connect_timeout`.
    pub fn connect(urls: &str, options: Options) -> Result<Connection, NatsError> {
        let addrs = resolve(urls)?;
        let inner = Arc::new(Inner {
            addrs,
            inbox: format!("_INBOX.{}.", random_token()),
            options,
            writer: Mutex::new(None),
            routes: Mutex::new(Routes {
                next_sid: INBOX_SID + 1,
                ..Routes::default()
            }),
            next_token: AtomicU64::new(1),
            connected: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
            stop: Stop::default(),
            reader: Mutex::new(None),
        });
        let first = inner.dial()?;
        inner.connected.store(true, Ordering::Release);
        let reader = inner.clone();
        let thread = std::thread::Builder::new()
            .name("synkit-nats".into())
            .spawn(move || reader.run(first))
            .map_err(|e| NatsError::Io(e.to_string()))?;
        *lock(&inner.reader) = Some(thread);
        Ok(Connection {
            _closer: Arc::new(Closer(inner.clone())),
            inner,
        })
    }

    /// Publishes `payload` on `subject`.
    pub fn publish(&self, subject: &str, payload: &[u8]) -> Result<(), NatsError> {
        self.publish_with_reply(subject, None, payload)
    }

    /// Publishes `payload` on `subject`, asking for replies on `reply`.
    pub fn publish_with_reply(
        &self,
        subject: &str,
        reply: Option<&str>,
        payload: &[u8],
    ) -> Result<(), NatsError> {
        if !proto::valid_subject(subject) || reply.is_some_and(|r| !proto::valid_subject(r)) {
            return Err(NatsError::InvalidSubject(subject.to_owned()));
        }
        if payload.len() > self.inner.options.max_payload {
            return Err(NatsError::PayloadTooLarge(payload.len()));
        }
        let mut op = Vec::with_capacity(payload.len() + subject.len() + 40);
        proto::publish(&mut op, subject, reply, payload);
        self.inner.write(&op)
    }

    /// Sends `payload` to `subject` and waits for one reply, no longer
    /// than the context's deadline (or `default_timeout` without one).
    /// Nobody subscribed is [`NatsError::NoResponders`] at once.
    pub fn request(
        &self,
        cx: &Context<'_>,
        subject: &str,
        payload: &[u8],
        default_timeout: Duration,
    ) -> Result<Message, NatsError> {
        cx.check().map_err(NatsError::from_context)?;
        let token = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = bounded(1);
        lock(&self.inner.routes).requests.insert(token, tx);
        let reply = format!("{}{token}", self.inner.inbox);
        if let Err(e) = self.publish_with_reply(subject, Some(&reply), payload) {
            lock(&self.inner.routes).requests.remove(&token);
            return Err(e);
        }
        let until = Instant::now() + cx.remaining().unwrap_or(default_timeout);
        let outcome = match wait::answer(&rx, cx, until) {
            Ok(answer) => answer,
            Err(Ended::Closed) => Err(NatsError::Disconnected),
            Err(Ended::Context(e)) => Err(NatsError::from_context(e)),
            Err(Ended::TimedOut) => Err(NatsError::DeadlineExceeded),
        };
        lock(&self.inner.routes).requests.remove(&token);
        outcome
    }

    /// Subscribes to `subject` (wildcards allowed), in queue group `queue`
    /// if given: the server gives each message to one member of a group.
    pub fn subscribe(&self, subject: &str, queue: Option<&str>) -> Result<Subscription, NatsError> {
        let wildcards_ok = subject.replace(['*', '>'], "x");
        if !proto::valid_subject(&wildcards_ok) || queue.is_some_and(|q| !proto::valid_subject(q)) {
            return Err(NatsError::InvalidSubject(subject.to_owned()));
        }
        let (to, from) = bounded(self.inner.options.pending_messages);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut routes = lock(&self.inner.routes);
        let sid = routes.next_sid;
        routes.next_sid += 1;
        let mut op = Vec::new();
        proto::subscribe(&mut op, subject, queue, sid);
        // Written under the lock a reconnect sends subscriptions under:
        // while disconnected, the reconnect sends it.
        match self.inner.write(&op) {
            Ok(()) | Err(NatsError::Disconnected | NatsError::Io(_)) => {}
            Err(e) => return Err(e),
        }
        routes.subs.insert(
            sid,
            Sub {
                subject: subject.to_owned(),
                queue: queue.map(str::to_owned),
                to,
                dropped: dropped.clone(),
            },
        );
        drop(routes);
        Ok(Subscription {
            conn: self.clone(),
            sid,
            messages: from,
            dropped,
        })
    }

    /// Waits until the server has read everything sent so far (a `PING`
    /// answered), or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<(), NatsError> {
        let (tx, rx) = bounded(1);
        {
            let mut routes = lock(&self.inner.routes);
            self.inner.write(b"PING\r\n")?;
            routes.pongs.push_back(Some(tx));
        }
        rx.recv_timeout(timeout)
            .map_err(|_| NatsError::DeadlineExceeded)
    }

    /// Whether the connection is up now.
    pub fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// How many times the connection was made again after a loss.
    pub fn reconnects(&self) -> u64 {
        self.inner.reconnects.load(Ordering::Relaxed)
    }

    /// Closes the connection now; every clone sees it closed.
    pub fn close(&self) {
        self.inner.close();
    }
}

/// Messages on a subject, queued for whoever reads them; unsubscribes when
/// dropped.
pub struct Subscription {
    conn: Connection,
    sid: u64,
    messages: Receiver<Message>,
    dropped: Arc<AtomicU64>,
}

impl Subscription {
    /// The queue of messages (clone it to read from several threads).
    pub fn messages(&self) -> &Receiver<Message> {
        &self.messages
    }

    /// Messages lost because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The connection it came from.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut routes = lock(&self.conn.inner.routes);
        routes.subs.remove(&self.sid);
        let mut op = Vec::new();
        proto::unsubscribe(&mut op, self.sid);
        let _ = self.conn.inner.write(&op);
    }
}

impl Inner {
    fn write(&self, bytes: &[u8]) -> Result<(), NatsError> {
        let mut writer = lock(&self.writer);
        let Some(stream) = writer.as_mut() else {
            return Err(if self.stop.is_stopped() {
                NatsError::Closed
            } else {
                NatsError::Disconnected
            });
        };
        if let Err(e) = stream.write_all(bytes) {
            // The reader sees the broken stream too and dials again.
            let _ = stream.shutdown(Shutdown::Both);
            *writer = None;
            return Err(NatsError::Io(e.to_string()));
        }
        Ok(())
    }

    /// Connects to the first server that accepts: `INFO`, then `CONNECT`,
    /// every subscription, and a `PING` whose `PONG` says it is done.
    fn dial(&self) -> Result<(TcpStream, Parser), NatsError> {
        let mut last = NatsError::Disconnected;
        for addr in &self.addrs {
            match self.handshake(addr) {
                Ok(ok) => return Ok(ok),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn handshake(&self, addr: &SocketAddr) -> Result<(TcpStream, Parser), NatsError> {
        let timeout = self.options.connect_timeout;
        let io = |e: std::io::Error| NatsError::Io(format!("{addr}: {e}"));
        let mut stream = TcpStream::connect_timeout(addr, timeout).map_err(io)?;
        let _ = stream.set_nodelay(true);
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        let mut parser = Parser::new(self.options.max_payload);
        let mut ops = read_ops(&mut stream, &mut parser, 1)?;
        let ServerOp::Info(info) = ops.remove(0) else {
            return Err(NatsError::Protocol(format!(
                "{addr} did not start with INFO"
            )));
        };
        let info: serde_json::Value =
            serde_json::from_str(&info).map_err(|e| NatsError::Protocol(format!("INFO: {e}")))?;
        if let Some(max) = info.get("max_payload").and_then(serde_json::Value::as_u64) {
            parser.set_max_payload(usize::try_from(max).unwrap_or(usize::MAX));
        }
        let mut hello = Vec::new();
        proto::connect(&mut hello, &self.options.name);
        stream.write_all(&hello).map_err(io)?;
        // CONNECT's PING answered: the server took it.
        loop {
            match read_ops(&mut stream, &mut parser, 1)?.pop() {
                Some(ServerOp::Pong) => break,
                Some(ServerOp::Err(text)) => return Err(NatsError::Server(text)),
                _ => {}
            }
        }
        stream
            .set_read_timeout(Some(self.options.ping_interval))
            .map_err(io)?;
        let writer = stream.try_clone().map_err(io)?;
        // Every subscription again, and the writer made available, under
        // the lock `subscribe` writes under: each is sent exactly once.
        let routes = lock(&self.routes);
        let mut subs = Vec::new();
        proto::subscribe(&mut subs, &format!("{}*", self.inbox), None, INBOX_SID);
        for (sid, sub) in &routes.subs {
            proto::subscribe(&mut subs, &sub.subject, sub.queue.as_deref(), *sid);
        }
        *lock(&self.writer) = Some(writer);
        self.write(&subs)?;
        Ok((stream, parser))
    }

    /// The reader: serve a connection until it breaks, then dial again.
    fn run(&self, first: (TcpStream, Parser)) {
        let mut current = Some(first);
        let mut backoff = Backoff::new(self.options.reconnect_min, self.options.reconnect_max);
        while !self.stop.is_stopped() {
            let (stream, parser) = match current.take() {
                Some(c) => c,
                None => match self.dial() {
                    Ok(c) => {
                        self.reconnects.fetch_add(1, Ordering::Relaxed);
                        log::info!(reconnects = self.reconnects.load(Ordering::Relaxed); "NATS: connected again");
                        c
                    }
                    Err(e) => {
                        log::warn!(err:display = e; "NATS: cannot connect; trying again");
                        self.stop.sleep(backoff.next());
                        continue;
                    }
                },
            };
            backoff.reset();
            self.connected.store(true, Ordering::Release);
            let why = self.serve(stream, parser);
            self.connected.store(false, Ordering::Release);
            if let Some(s) = lock(&self.writer).take() {
                let _ = s.shutdown(Shutdown::Both);
            }
            self.fail_waiting(&why);
            if !self.stop.is_stopped() {
                log::warn!(err:display = why; "NATS: connection lost; connecting again");
            }
        }
    }

    /// Reads operations until the connection fails; why it did.
    fn serve(&self, mut stream: TcpStream, mut parser: Parser) -> NatsError {
        let mut buf = vec![0; 64 << 10];
        let mut pings_out = 0;
        loop {
            loop {
                match parser.next() {
                    Ok(Some(op)) => {
                        if let Err(e) = self.handle(op, &mut pings_out) {
                            return e;
                        }
                    }
                    Ok(None) => break,
                    Err(ProtoError(why)) => return NatsError::Protocol(why),
                }
            }
            match stream.read(&mut buf) {
                Ok(0) => return NatsError::Io("the server closed the connection".into()),
                Ok(n) => parser.feed(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.stop.is_stopped() {
                        return NatsError::Closed;
                    }
                    // Quiet for a ping interval: is the server there?
                    if pings_out >= self.options.max_pings_out {
                        return NatsError::Io("the server stopped answering pings".into());
                    }
                    pings_out += 1;
                    let mut routes = lock(&self.routes);
                    if self.write(b"PING\r\n").is_err() {
                        return NatsError::Disconnected;
                    }
                    routes.pongs.push_back(None);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return if self.stop.is_stopped() {
                        NatsError::Closed
                    } else {
                        NatsError::Io(e.to_string())
                    };
                }
            }
        }
    }

    fn handle(&self, op: ServerOp, pings_out: &mut usize) -> Result<(), NatsError> {
        match op {
            ServerOp::Ping => self.write(b"PONG\r\n")?,
            ServerOp::Pong => {
                *pings_out = 0;
                if let Some(Some(waiter)) = lock(&self.routes).pongs.pop_front() {
                    let _ = waiter.send(());
                }
            }
            ServerOp::Msg {
                subject,
                sid,
                reply,
                payload,
                status,
            } => self.deliver(
                Message {
                    subject,
                    reply,
                    payload,
                },
                sid,
                status,
            ),
            ServerOp::Err(text) => {
                // The server closes the connection after most errors; the
                // read that follows sees it.
                log::warn!(err = text.as_str(); "NATS: the server reports an error");
            }
            ServerOp::Info(_) | ServerOp::Ok => {}
        }
        Ok(())
    }

    fn deliver(&self, msg: Message, sid: u64, status: Option<u16>) {
        let mut routes = lock(&self.routes);
        if sid == INBOX_SID {
            let token = msg
                .subject
                .strip_prefix(&self.inbox)
                .and_then(|t| t.parse::<u64>().ok());
            if let Some(waiter) = token.and_then(|t| routes.requests.remove(&t)) {
                let _ = waiter.try_send(if status == Some(503) {
                    Err(NatsError::NoResponders)
                } else {
                    Ok(msg)
                });
            }
            return;
        }
        let Some(sub) = routes.subs.get(&sid) else {
            return;
        };
        match sub.to.try_send(msg) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                // A slow consumer: the message is lost, the reader goes on.
                if sub.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    log::warn!(subject = sub.subject.as_str(); "NATS: a subscription is not keeping up; dropping messages");
                }
            }
        }
    }

    fn fail_waiting(&self, why: &NatsError) {
        let mut routes = lock(&self.routes);
        let lost = match why {
            NatsError::Closed => NatsError::Closed,
            _ => NatsError::Disconnected,
        };
        for (_, waiter) in routes.requests.drain() {
            let _ = waiter.try_send(Err(lost.clone()));
        }
        routes.pongs.clear();
    }

    fn close(&self) {
        self.stop.stop();
        if let Some(s) = lock(&self.writer).take() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let reader = lock(&self.reader).take();
        if let Some(reader) = reader
            && reader.thread().id() != std::thread::current().id()
        {
            let _ = reader.join();
        }
    }
}

/// Reads from `stream` until at least `want` operations are parsed.
fn read_ops(
    stream: &mut TcpStream,
    parser: &mut Parser,
    want: usize,
) -> Result<Vec<ServerOp>, NatsError> {
    let mut ops = Vec::new();
    let mut buf = [0; 4096];
    loop {
        while let Some(op) = parser
            .next()
            .map_err(|ProtoError(why)| NatsError::Protocol(why))?
        {
            ops.push(op);
        }
        if ops.len() >= want {
            return Ok(ops);
        }
        match stream.read(&mut buf) {
            Ok(0) => return Err(NatsError::Io("the server closed the connection".into())),
            Ok(n) => parser.feed(&buf[..n]),
            Err(e) => return Err(NatsError::Io(e.to_string())),
        }
    }
}

/// `nats://a:4222,nats://b:4222` → the addresses to try.
fn resolve(urls: &str) -> Result<Vec<SocketAddr>, NatsError> {
    let mut addrs = Vec::new();
    for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let hostport = url.strip_prefix("nats://").unwrap_or(url);
        let hostport = hostport.trim_end_matches('/');
        let found = hostport
            .to_socket_addrs()
            .map_err(|e| NatsError::Io(format!("{url}: {e}")))?;
        addrs.extend(found);
    }
    if addrs.is_empty() {
        return Err(NatsError::Io(format!("no server address in {urls:?}")));
    }
    Ok(addrs)
}

/// 22 random letters and digits for the inbox (NUID's length), from the
/// standard library's randomly seeded hasher.
fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(22);
    let state = std::collections::hash_map::RandomState::new();
    let mut i = 0u64;
    while out.len() < 22 {
        let mut h = state.build_hasher();
        h.write_u64(i);
        i += 1;
        let mut x = h.finish();
        for _ in 0..10 {
            if out.len() == 22 {
                break;
            }
            out.push(char::from(ALPHABET[(x % 62) as usize]));
            x /= 62;
        }
    }
    out
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("servers", &self.inner.addrs)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("sid", &self.sid)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}
