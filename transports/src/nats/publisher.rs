//! Go kit's NATS `Publisher`: an endpoint that makes a request on a subject.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use synkit_core::{Context, Endpoint};

use super::{Connection, NatsError};

type EncodeReq<Req> = Box<dyn Fn(&Req) -> Result<Vec<u8>, String> + Send + Sync>;
type DecodeResp<Resp> = Box<dyn Fn(&[u8]) -> Result<Resp, NatsError> + Send + Sync>;

/// Calls a service on a NATS subject, as Go kit's `nats.Publisher`: the
/// request is encoded and sent with a reply inbox, and the reply decoded;
/// the call waits no longer than the context's deadline, or 10 s without
/// one (Go kit's default).
pub struct Publisher<Req, Resp> {
    conn: Connection,
    subject: String,
    encode: EncodeReq<Req>,
    decode: DecodeResp<Resp>,
    timeout: Duration,
    types: PhantomData<fn(Req) -> Resp>,
}

impl<Req, Resp> Publisher<Req, Resp> {
    /// With the encoder and decoder given.
    pub fn new(
        conn: Connection,
        subject: &str,
        encode: impl Fn(&Req) -> Result<Vec<u8>, String> + Send + Sync + 'static,
        decode: impl Fn(&[u8]) -> Result<Resp, NatsError> + Send + Sync + 'static,
    ) -> Self {
        Publisher {
            conn,
            subject: subject.to_owned(),
            encode: Box::new(encode),
            decode: Box::new(decode),
            timeout: Duration::from_secs(10),
            types: PhantomData,
        }
    }

    /// The wait for a call whose context has no deadline.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl<Req: Serialize, Resp: DeserializeOwned> Publisher<Req, Resp> {
    /// JSON both ways; a reply that is Go kit's error body, an object whose
    /// only field is `err`, is [`NatsError::Remote`].
    pub fn json(conn: Connection, subject: &str) -> Self {
        Publisher::new(
            conn,
            subject,
            |req: &Req| serde_json::to_vec(req).map_err(|e| e.to_string()),
            |bytes: &[u8]| {
                if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(bytes)
                    && map.len() == 1
                    && let Some(serde_json::Value::String(err)) = map.get("err")
                {
                    return Err(NatsError::Remote(err.clone()));
                }
                serde_json::from_slice(bytes).map_err(|e| NatsError::Codec(e.to_string()))
            },
        )
    }
}

impl<Req, Resp> Endpoint<Req> for Publisher<Req, Resp> {
    type Response = Resp;
    type Error = NatsError;

    fn call(&self, cx: &Context<'_>, req: Req) -> Result<Resp, NatsError> {
        let payload = (self.encode)(&req).map_err(NatsError::Codec)?;
        let reply = self
            .conn
            .request(cx, &self.subject, &payload, self.timeout)?;
        (self.decode)(&reply.payload)
    }
}

impl<Req, Resp> fmt::Debug for Publisher<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("subject", &self.subject)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
