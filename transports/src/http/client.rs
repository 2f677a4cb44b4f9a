//! An HTTP client as an [`Endpoint`]: Go kit's `transport/http.Client`, over
//! ureq.
//!
//! A call encodes the typed request into an HTTP request, sends it through
//! a pooled ureq `Agent`, and decodes the response. The context's remaining
//! time becomes the call's timeout — a context already out of time fails at
//! once, without a request — so deadlines shrink hop by hop. Failures carry
//! synkit's error kinds ([`ClientError::kind`]): a refused connection is
//! `Unavailable`, a timeout `DeadlineExceeded`, a 429 `RateLimited`, a 503
//! `Unavailable`, a 504 `DeadlineExceeded`, so a circuit breaker or a retry
//! can judge them.
//!
//! Cancellation is checked before the request is sent; ureq cannot abandon
//! a request midway, so a call cancelled in flight ends at its timeout.
//!
//! ```no_run
//! use synkit_core::{Context, Endpoint};
//! use synkit_transports::http::Method;
//! use synkit_transports::http::client::{Client, ClientError, decode_json_response, encode_json_request};
//!
//! #[derive(serde::Serialize)]
//! struct CountRequest { s: String }
//! #[derive(serde::Deserialize)]
//! struct CountResponse { v: usize }
//!
//! let count = Client::new(
//!     Method::POST,
//!     "http://127.0.0.1:8080/count".parse().unwrap(),
//!     encode_json_request::<CountRequest, ClientError>,
//!     decode_json_response::<CountResponse, ClientError>,
//! );
//! let cx = Context::background();
//! let out = count.call(&cx, CountRequest { s: "abc".into() })?;
//! assert_eq!(out.v, 3);
//! # Ok::<(), ClientError>(())
//! ```

use std::fmt;
use std::io::ErrorKind;

use ::http::{HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use synkit_core::{Context, Endpoint, Error};

/// Why a client call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The call was refused before it started, or ended without a
    /// response: the kind says how (cancelled, out of time, unreachable).
    Transport(Error, String),
    /// The server answered with a status the decoder does not accept.
    Status(StatusCode, String),
    /// The request could not be encoded or the response decoded.
    Codec(String),
}

impl ClientError {
    /// The synkit error kind this failure amounts to, for breakers and
    /// retries: transport failures have theirs; a status has the kind
    /// [`status::kind_for`](super::status::kind_for) reads from it (429,
    /// 502, 503, 504); anything else has none.
    pub fn kind(&self) -> Option<Error> {
        match self {
            ClientError::Transport(kind, _) => Some(*kind),
            ClientError::Status(status, _) => super::status::kind_for(*status),
            ClientError::Codec(_) => None,
        }
    }
}

impl From<Error> for ClientError {
    fn from(kind: Error) -> Self {
        ClientError::Transport(kind, kind.to_string())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Transport(_, message) => write!(f, "HTTP call failed: {message}"),
            ClientError::Status(status, body) => {
                write!(f, "HTTP call answered {status}: {}", body.trim_end())
            }
            ClientError::Codec(message) => {
                write!(f, "HTTP call could not be encoded or decoded: {message}")
            }
        }
    }
}

impl std::error::Error for ClientError {}

type Before = Box<dyn Fn(&Context<'_>, &mut Request<Vec<u8>>) + Send + Sync>;
type After = Box<dyn Fn(&Context<'_>, &Response<Vec<u8>>) + Send + Sync>;
type Finalizer = Box<dyn Fn(&Context<'_>, Option<StatusCode>) + Send + Sync>;

/// A remote HTTP method as an [`Endpoint`]: Go kit's `http.NewClient`.
///
/// `encode` writes the typed request into a request already carrying the
/// method and URL; `decode` turns the response into the typed response or an
/// error. The error type `E` is yours; it needs `From<ClientError>` (and
/// `ClientError` itself qualifies).
pub struct Client<Enc, Dec> {
    agent: ureq::Agent,
    method: Method,
    url: Uri,
    encode: Enc,
    decode: Dec,
    before: Vec<Before>,
    after: Vec<After>,
    finalizers: Vec<Finalizer>,
    tracer: Option<std::sync::Arc<dyn super::trace::ClientTrace>>,
}

/// The pooled agent clients share unless given one: HTTP status codes are
/// returned as responses (the decoder judges them), not as errors.
pub fn default_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

impl<Enc, Dec> Client<Enc, Dec> {
    /// Calls `method url` with a new pooled agent.
    pub fn new(method: Method, url: Uri, encode: Enc, decode: Dec) -> Client<Enc, Dec> {
        Client::with_agent(default_agent(), method, url, encode, decode)
    }

    /// Calls through `agent`, sharing its connection pool and settings
    /// (keep `http_status_as_error` off: the decoder judges statuses).
    pub fn with_agent(
        agent: ureq::Agent,
        method: Method,
        url: Uri,
        encode: Enc,
        decode: Dec,
    ) -> Client<Enc, Dec> {
        Client {
            agent,
            method,
            url,
            encode,
            decode,
            before: Vec::new(),
            after: Vec::new(),
            finalizers: Vec::new(),
            tracer: None,
        }
    }

    /// Adds a hook run on the encoded request (`ClientBefore`): inject
    /// headers here.
    #[must_use]
    pub fn before(
        mut self,
        f: impl Fn(&Context<'_>, &mut Request<Vec<u8>>) + Send + Sync + 'static,
    ) -> Self {
        self.before.push(Box::new(f));
        self
    }

    /// Adds a hook that sees the response before decoding (`ClientAfter`).
    #[must_use]
    pub fn after(
        mut self,
        f: impl Fn(&Context<'_>, &Response<Vec<u8>>) + Send + Sync + 'static,
    ) -> Self {
        self.after.push(Box::new(f));
        self
    }

    /// Adds a hook run once per call with the response status, or `None`
    /// if there was no response (`ClientFinalizer`).
    #[must_use]
    pub fn finalizer(
        mut self,
        f: impl Fn(&Context<'_>, Option<StatusCode>) + Send + Sync + 'static,
    ) -> Self {
        self.finalizers.push(Box::new(f));
        self
    }

    /// Traces every call as Go kit's `HTTPClientTrace` does: a client span
    /// (the child of the span in the call's context), its B3 headers on
    /// the request, tagged `http.method`, `http.url`, `http.status_code`,
    /// `http.response.size` and `error`.
    #[must_use]
    pub fn traced(mut self, tracer: std::sync::Arc<dyn super::trace::ClientTrace>) -> Self {
        self.tracer = Some(tracer);
        self
    }

    fn send(
        &self,
        cx: &Context<'_>,
        req: Request<Vec<u8>>,
    ) -> Result<Response<Vec<u8>>, ClientError> {
        let mut config = self.agent.configure_request(req);
        if let Some(left) = cx.remaining() {
            config = config.timeout_global(Some(left));
        }
        let req = config.build();
        let mut resp = self.agent.run(req).map_err(transport_error)?;
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(transport_error)?;
        let (parts, _) = resp.into_parts();
        Ok(Response::from_parts(parts, body))
    }
}

// By value: it is `map_err`'s argument.
#[allow(clippy::needless_pass_by_value)]
fn transport_error(e: ureq::Error) -> ClientError {
    let kind = match &e {
        ureq::Error::Timeout(_) => Error::DeadlineExceeded,
        ureq::Error::Io(io) if matches!(io.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            Error::DeadlineExceeded
        }
        _ => Error::Unavailable,
    };
    ClientError::Transport(kind, e.to_string())
}

impl<Req, Resp, E, Enc, Dec> Endpoint<Req> for Client<Enc, Dec>
where
    Enc: Fn(&Context<'_>, &mut Request<Vec<u8>>, Req) -> Result<(), E>,
    Dec: Fn(&Context<'_>, Response<Vec<u8>>) -> Result<Resp, E>,
    E: From<ClientError>,
{
    type Response = Resp;
    type Error = E;

    fn call(&self, cx: &Context<'_>, req: Req) -> Result<Resp, E> {
        let finish = |status: Option<StatusCode>| {
            for f in &self.finalizers {
                f(cx, status);
            }
        };
        if let Err(kind) = cx.check() {
            finish(None);
            return Err(ClientError::from(kind).into());
        }
        let mut request = Request::new(Vec::new());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.url.clone();
        if let Err(e) = (self.encode)(cx, &mut request, req) {
            finish(None);
            return Err(e);
        }
        for f in &self.before {
            f(cx, &mut request);
        }
        let sent = match &self.tracer {
            Some(tracer) => tracer.trace(cx, request, &mut |r| self.send(cx, r)),
            None => self.send(cx, request),
        };
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                finish(None);
                return Err(e.into());
            }
        };
        for f in &self.after {
            f(cx, &resp);
        }
        let status = resp.status();
        let out = (self.decode)(cx, resp);
        finish(Some(status));
        out
    }
}

impl<Enc, Dec> fmt::Debug for Client<Enc, Dec> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Encodes `req` as a JSON body (Go kit's `EncodeJSONRequest`):
/// `Content-Type: application/json; charset=utf-8`.
pub fn encode_json_request<T: Serialize, E: From<ClientError>>(
    _cx: &Context<'_>,
    request: &mut Request<Vec<u8>>,
    req: T,
) -> Result<(), E> {
    let body = serde_json::to_vec(&req).map_err(|e| ClientError::Codec(e.to_string()))?;
    *request.body_mut() = body;
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(())
}

/// Decodes a 2xx JSON response into `T`; any other status is a
/// [`ClientError::Status`] with the body's text.
// By value: decoders own the response, so others can take its body.
#[allow(clippy::needless_pass_by_value)]
pub fn decode_json_response<T: DeserializeOwned, E: From<ClientError>>(
    _cx: &Context<'_>,
    resp: Response<Vec<u8>>,
) -> Result<T, E> {
    if !resp.status().is_success() {
        let text = String::from_utf8_lossy(resp.body()).into_owned();
        return Err(ClientError::Status(resp.status(), text).into());
    }
    serde_json::from_slice(resp.body())
        .map_err(|e| ClientError::Codec(format!("invalid JSON in the response: {e}")).into())
}
