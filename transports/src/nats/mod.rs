//! NATS request-reply, as Go kit's `transport/nats`: a [`Subscriber`]
//! serves an endpoint on a subject and publishes each answer to the
//! request's reply subject; a [`Publisher`] is an endpoint that sends a
//! request and waits for the reply within the context's deadline.
//!
//! Under them is our own client of the NATS text protocol
//! (`INFO`/`CONNECT`/`PUB`/`SUB`/`UNSUB`/`MSG`/`HMSG`/`PING`/`PONG`): a
//! sans-IO parser, and a [`Connection`] whose reader thread answers pings,
//! routes replies, queues messages for subscriptions (a subscription that
//! falls behind loses messages, counted, rather than stalling the reader)
//! and dials again with backoff when the server goes away, subscribing to
//! everything again. Requests in flight when the connection drops fail at
//! once with [`NatsError::Disconnected`]; a request nobody listens for
//! fails at once with [`NatsError::NoResponders`] (the server's 503).
//! (The maintained Rust NATS client is async-only; the synchronous one is
//! deprecated and brings a TLS stack.)
//!
//! ```no_run
//! use synkit_core::endpoint::endpoint_fn;
//! use synkit_core::{Context, Endpoint, Error};
//! use synkit_transports::nats::{Connection, Options, Publisher, Subscriber};
//!
//! # fn main() -> Result<(), synkit_transports::nats::NatsError> {
//! let conn = Connection::connect("nats://127.0.0.1:4222", Options::default())?;
//! let double = endpoint_fn(|_: &Context<'_>, x: i64| Ok::<_, Error>(x * 2));
//! let _serving = Subscriber::json(double).serve(&conn, "math.double", Some("math"), 4)?;
//!
//! let call = Publisher::<i64, i64>::json(conn.clone(), "math.double");
//! assert_eq!(call.call(&Context::background(), 21)?, 42);
//! # Ok(())
//! # }
//! ```

mod conn;
mod proto;
mod publisher;
mod subscriber;

use std::fmt;
use std::time::Duration;

pub use conn::{Connection, Subscription};
pub use publisher::Publisher;
pub use subscriber::{Handle, Subscriber};

/// A message as delivered to a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject it was published on.
    pub subject: String,
    /// Where the publisher wants replies, if anywhere.
    pub reply: Option<String>,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// How a [`Connection`] behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The name the server shows for this client.
    pub name: String,
    /// How long to wait for a server to connect and accept us.
    pub connect_timeout: Duration,
    /// The first wait between attempts to connect again; it doubles.
    pub reconnect_min: Duration,
    /// The longest wait between attempts.
    pub reconnect_max: Duration,
    /// After this long with nothing from the server, ping it.
    pub ping_interval: Duration,
    /// Pings unanswered before the server is taken for gone.
    pub max_pings_out: usize,
    /// Messages a subscription queues before it drops new ones.
    pub pending_messages: usize,
    /// The largest payload sent or taken (the server's own limit, from its
    /// `INFO`, applies to what it sends).
    pub max_payload: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            name: "synkit".into(),
            connect_timeout: Duration::from_secs(2),
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
            ping_interval: Duration::from_secs(20),
            max_pings_out: 2,
            pending_messages: 4096,
            max_payload: 1 << 20,
        }
    }
}

/// Why a NATS operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatsError {
    /// The network said no.
    Io(String),
    /// The connection is down (it is being made again).
    Disconnected,
    /// The connection was closed.
    Closed,
    /// The server's bytes made no sense.
    Protocol(String),
    /// The server said `-ERR`.
    Server(String),
    /// Nobody is subscribed to the subject (the server's 503).
    NoResponders,
    /// No reply within the deadline.
    DeadlineExceeded,
    /// The context was cancelled.
    Cancelled,
    /// Not a subject (or queue group) NATS takes.
    InvalidSubject(String),
    /// A payload over the limit, in bytes.
    PayloadTooLarge(usize),
    /// A request or reply could not be encoded or decoded.
    Codec(String),
    /// The service answered with an error (Go kit's `{"err": "…"}`).
    Remote(String),
}

impl NatsError {
    fn from_context(e: synkit_core::Error) -> NatsError {
        match e {
            synkit_core::Error::Cancelled => NatsError::Cancelled,
            _ => NatsError::DeadlineExceeded,
        }
    }
}

impl fmt::Display for NatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatsError::Io(why) => write!(f, "NATS connection failed: {why}"),
            NatsError::Disconnected => f.write_str("NATS connection lost (reconnecting)"),
            NatsError::Closed => f.write_str("NATS connection closed"),
            NatsError::Protocol(why) => write!(f, "NATS protocol error: {why}"),
            NatsError::Server(why) => write!(f, "NATS server error: {why}"),
            NatsError::NoResponders => f.write_str("no responders on that NATS subject"),
            NatsError::DeadlineExceeded => f.write_str("NATS request out of time"),
            NatsError::Cancelled => f.write_str("NATS request cancelled"),
            NatsError::InvalidSubject(s) => write!(f, "not a NATS subject: {s:?}"),
            NatsError::PayloadTooLarge(n) => {
                write!(f, "a NATS payload of {n} bytes is over the limit")
            }
            NatsError::Codec(why) => write!(f, "NATS message unreadable: {why}"),
            NatsError::Remote(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for NatsError {}
