//! Go kit's NATS `Subscriber`: an endpoint served on a subject.

use std::fmt;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use synkit_core::{Context, Endpoint};

use super::{Connection, Message, NatsError, Subscription};

type Decode<Req> = Box<dyn Fn(&Message) -> Result<Req, String> + Send + Sync>;
type Encode<Resp> = Box<dyn Fn(&Resp) -> Result<Vec<u8>, String> + Send + Sync>;

/// Serves an endpoint on a NATS subject, as Go kit's `nats.Subscriber`:
/// each message is decoded, the endpoint called, and the answer encoded
/// and published to the message's reply subject. A message that cannot be
/// decoded, or an endpoint error, is answered as Go kit's default error
/// encoder answers it, `{"err":"text"}`; a message with no reply subject
/// is served and nothing published.
pub struct Subscriber<E, Req, Resp> {
    endpoint: E,
    decode: Decode<Req>,
    encode: Encode<Resp>,
    timeout: Option<Duration>,
}

impl<E, Req, Resp> Subscriber<E, Req, Resp>
where
    E: Endpoint<Req, Response = Resp> + Send + Sync + 'static,
    E::Error: fmt::Display,
    Req: 'static,
    Resp: 'static,
{
    /// With the request decoder and response encoder given.
    pub fn new(
        endpoint: E,
        decode: impl Fn(&Message) -> Result<Req, String> + Send + Sync + 'static,
        encode: impl Fn(&Resp) -> Result<Vec<u8>, String> + Send + Sync + 'static,
    ) -> Self {
        Subscriber {
            endpoint,
            decode: Box::new(decode),
            encode: Box::new(encode),
            timeout: None,
        }
    }

    /// Each call gets `timeout` as its context's deadline (Go kit gives
    /// none).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Subscribes to `subject` (in queue group `queue`, if given) and
    /// serves it on `workers` threads until the returned [`Handle`] is
    /// dropped.
    pub fn serve(
        self,
        conn: &Connection,
        subject: &str,
        queue: Option<&str>,
        workers: usize,
    ) -> Result<Handle, NatsError> {
        let subscription = conn.subscribe(subject, queue)?;
        let this = Arc::new(self);
        let mut threads = Vec::new();
        for i in 0..workers.max(1) {
            let (this, messages, conn) =
                (this.clone(), subscription.messages().clone(), conn.clone());
            let thread = std::thread::Builder::new()
                .name(format!("synkit-nats-{i}"))
                .spawn(move || {
                    for msg in messages {
                        // A panicking endpoint fails its call, not the worker.
                        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            this.serve_one(&conn, &msg);
                        }));
                        if served.is_err()
                            && let Some(reply) = &msg.reply
                        {
                            let _ = conn.publish(reply, &error_body("the service failed"));
                        }
                    }
                })
                .map_err(|e| NatsError::Io(e.to_string()))?;
            threads.push(thread);
        }
        Ok(Handle {
            subscription: Some(subscription),
            threads,
        })
    }

    fn serve_one(&self, conn: &Connection, msg: &Message) {
        let root = Context::background();
        let timed;
        let cx = match self.timeout {
            Some(t) => {
                timed = root.with_timeout(t);
                &timed
            }
            None => &root,
        };
        let answer = (self.decode)(msg)
            .and_then(|req| self.endpoint.call(cx, req).map_err(|e| e.to_string()))
            .and_then(|resp| (self.encode)(&resp));
        let Some(reply) = &msg.reply else {
            return;
        };
        let payload = answer.unwrap_or_else(|err| {
            log::warn!(subject = msg.subject.as_str(), err = err.as_str(); "NATS: a request failed");
            error_body(&err)
        });
        if let Err(e) = conn.publish(reply, &payload) {
            log::warn!(subject = msg.subject.as_str(), err:display = e; "NATS: a reply could not be sent");
        }
    }
}

/// Go kit's `DefaultErrorEncoder`: `{"err":"text"}`.
pub(crate) fn error_body(text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "err": text })).unwrap_or_default()
}

impl<E, Req, Resp> Subscriber<E, Req, Resp>
where
    E: Endpoint<Req, Response = Resp> + Send + Sync + 'static,
    E::Error: fmt::Display,
    Req: DeserializeOwned + 'static,
    Resp: Serialize + 'static,
{
    /// JSON both ways (Go kit's `EncodeJSONResponse`).
    pub fn json(endpoint: E) -> Self {
        Subscriber::new(
            endpoint,
            |msg: &Message| serde_json::from_slice(&msg.payload).map_err(|e| e.to_string()),
            |resp: &Resp| serde_json::to_vec(resp).map_err(|e| e.to_string()),
        )
    }
}

/// A subject being served. As every synkit server's handle, it serves
/// until [`stop`](Self::stop)ped or dropped: either unsubscribes and lets
/// the workers finish the messages they hold.
#[must_use = "dropping the handle stops serving the subject"]
pub struct Handle {
    subscription: Option<Subscription>,
    threads: Vec<JoinHandle<()>>,
}

impl Handle {
    /// Unsubscribes, lets the workers finish the messages they hold, and
    /// joins them.
    pub fn stop(self) {
        drop(self);
    }

    /// Messages lost because the workers fell behind.
    pub fn dropped(&self) -> u64 {
        self.subscription.as_ref().map_or(0, Subscription::dropped)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Unsubscribing drops the queue's sender: the workers run dry.
        self.subscription.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.threads.len())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl<E, Req, Resp> fmt::Debug for Subscriber<E, Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
