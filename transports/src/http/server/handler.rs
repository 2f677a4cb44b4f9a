use ::http::{Request, Response, StatusCode};
use synkit_core::{Context, Endpoint};

use super::{DecodeError, EncodeError, ErrorResponse, Service, encode_error};

type Before = Box<dyn Fn(&Context<'_>, &mut Request<Vec<u8>>) + Send + Sync>;
type After = Box<dyn Fn(&Context<'_>, &mut Response<Vec<u8>>) + Send + Sync>;
type ErrorEncoder =
    Box<dyn Fn(&Context<'_>, &dyn ErrorResponse, &mut Response<Vec<u8>>) + Send + Sync>;
type ErrorHandler = Box<dyn Fn(&Context<'_>, &dyn ErrorResponse) + Send + Sync>;
type Finalizer = Box<dyn Fn(&Context<'_>, StatusCode, usize) + Send + Sync>;

/// One endpoint served over HTTP: Go kit's `transport/http.Server`.
///
/// A request is decoded into the endpoint's request type, the endpoint is
/// called, and its response encoded, with Go kit's hooks around the
/// exchange:
///
/// 1. [`before`](Self::before) hooks see (and may change) the request —
///    `ServerBefore`; enrich it by inserting typed values into its
///    extensions. The endpoint's context then carries the request itself:
///    read it with [`request`].
/// 2. the decoder; its error is answered by the error encoder (400 for
///    [`decode_json`](super::decode_json)).
/// 3. the endpoint; its error (an [`ErrorResponse`]) goes to the
///    [`error_handler`](Self::error_handler) (for logging) and the
///    [`error_encoder`](Self::error_encoder) (default: [`encode_error`]).
/// 4. the encoder, which writes the endpoint's response into the HTTP
///    response (Go kit's `EncodeResponseFunc(ctx, w, response)`), then
///    [`after`](Self::after) hooks on it — `ServerAfter`.
/// 5. [`finalizer`](Self::finalizer)s with the status and body size, on
///    every path — `ServerFinalizer`.
///
/// ```
/// use synkit_core::endpoint::endpoint_fn;
/// use synkit_core::{Context, Error};
/// use synkit_transports::http::server::{Handler, Service, decode_json, encode_json};
/// use synkit_transports::http::{Request, Response, StatusCode};
///
/// #[derive(serde::Deserialize)]
/// struct CountRequest { s: String }
/// #[derive(serde::Serialize)]
/// struct CountResponse { v: usize }
///
/// let count = endpoint_fn(|_: &Context<'_>, req: CountRequest| {
///     Ok::<_, Error>(CountResponse { v: req.s.chars().count() })
/// });
/// let handler = Handler::new(count, decode_json, encode_json);
///
/// let cx = Context::background();
/// let mut resp = Response::new(Vec::new());
/// handler.serve(&cx, &mut Request::new(br#"{"s":"abc"}"#.to_vec()), &mut resp);
/// assert_eq!(resp.body(), b"{\"v\":3}\n");
/// let mut resp = Response::new(Vec::new());
/// handler.serve(&cx, &mut Request::new(b"not json".to_vec()), &mut resp);
/// assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
/// ```
pub struct Handler<E, D, N> {
    endpoint: E,
    decode: D,
    encode: N,
    before: Vec<Before>,
    after: Vec<After>,
    error_encoder: ErrorEncoder,
    on_error: Option<ErrorHandler>,
    finalizers: Vec<Finalizer>,
}

/// The request being served, from inside the endpoint or a hook: the
/// [`Handler`] puts it into the context (Go kit's `PopulateRequestContext`).
pub fn request<'a>(cx: &Context<'a>) -> Option<&'a Request<Vec<u8>>> {
    cx.value::<Request<Vec<u8>>>()
}

impl<E, D, N> Handler<E, D, N> {
    /// Serves `endpoint`, decoding requests with `decode` and encoding
    /// responses with `encode`.
    pub fn new(endpoint: E, decode: D, encode: N) -> Handler<E, D, N> {
        Handler {
            endpoint,
            decode,
            encode,
            before: Vec::new(),
            after: Vec::new(),
            error_encoder: Box::new(encode_error),
            on_error: None,
            finalizers: Vec::new(),
        }
    }

    /// Adds a hook run on the request before decoding (`ServerBefore`).
    #[must_use]
    pub fn before(
        mut self,
        f: impl Fn(&Context<'_>, &mut Request<Vec<u8>>) + Send + Sync + 'static,
    ) -> Self {
        self.before.push(Box::new(f));
        self
    }

    /// Adds a hook run on a successful response after encoding
    /// (`ServerAfter`): set headers here.
    #[must_use]
    pub fn after(
        mut self,
        f: impl Fn(&Context<'_>, &mut Response<Vec<u8>>) + Send + Sync + 'static,
    ) -> Self {
        self.after.push(Box::new(f));
        self
    }

    /// Replaces the error encoder (`ServerErrorEncoder`): it writes the
    /// error into the response.
    #[must_use]
    pub fn error_encoder(
        mut self,
        f: impl Fn(&Context<'_>, &dyn ErrorResponse, &mut Response<Vec<u8>>) + Send + Sync + 'static,
    ) -> Self {
        self.error_encoder = Box::new(f);
        self
    }

    /// Sets the hook told of every error, for logging (Go kit's
    /// `ServerErrorHandler`). One handler: a second call replaces the
    /// first (`before`, `after` and `finalizer` add to theirs).
    #[must_use]
    pub fn error_handler(
        mut self,
        f: impl Fn(&Context<'_>, &dyn ErrorResponse) + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Some(Box::new(f));
        self
    }

    /// Adds a hook run once the response is ready, with its status and body
    /// size, on every path (`ServerFinalizer`).
    #[must_use]
    pub fn finalizer(
        mut self,
        f: impl Fn(&Context<'_>, StatusCode, usize) + Send + Sync + 'static,
    ) -> Self {
        self.finalizers.push(Box::new(f));
        self
    }

    fn fail(&self, cx: &Context<'_>, err: &dyn ErrorResponse, resp: &mut Response<Vec<u8>>) {
        if let Some(h) = &self.on_error {
            h(cx, err);
        }
        (self.error_encoder)(cx, err, resp);
    }
}

impl<E, D, N, Req> Service for Handler<E, D, N>
where
    D: Fn(&Context<'_>, &Request<Vec<u8>>) -> Result<Req, DecodeError> + Send + Sync + 'static,
    E: Endpoint<Req> + Send + Sync + 'static,
    E::Error: ErrorResponse,
    N: Fn(&Context<'_>, E::Response, &mut Response<Vec<u8>>) -> Result<(), EncodeError>
        + Send
        + Sync
        + 'static,
    Req: 'static,
{
    fn serve(&self, cx: &Context<'_>, req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>) {
        for f in &self.before {
            f(cx, req);
        }
        let req: &Request<Vec<u8>> = req;
        let scoped = cx.with_value(req);
        let cx = &scoped;
        match (self.decode)(cx, req) {
            Err(e) => self.fail(cx, &e, resp),
            Ok(decoded) => match self.endpoint.call(cx, decoded) {
                Err(e) => self.fail(cx, &e, resp),
                Ok(out) => match (self.encode)(cx, out, resp) {
                    Err(e) => self.fail(cx, &e, resp),
                    Ok(()) => {
                        for f in &self.after {
                            f(cx, resp);
                        }
                    }
                },
            },
        }
        for f in &self.finalizers {
            f(cx, resp.status(), resp.body().len());
        }
    }
}

impl<E, D, N> std::fmt::Debug for Handler<E, D, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("before", &self.before.len())
            .field("after", &self.after.len())
            .field("finalizers", &self.finalizers.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use ::http::HeaderValue;
    use synkit_core::endpoint::endpoint_fn;

    use super::*;
    use crate::http::server::{decode_json, encode_json};

    #[derive(Clone, Debug, PartialEq)]
    struct Tenant(String);

    #[derive(serde::Deserialize)]
    struct Echo {
        s: String,
    }

    fn handler(log: &Arc<Mutex<Vec<String>>>) -> impl Service {
        let (l1, l2, l3) = (Arc::clone(log), Arc::clone(log), Arc::clone(log));
        let endpoint = endpoint_fn(|cx: &Context<'_>, req: Echo| {
            let tenant = request(cx)
                .and_then(|r| r.extensions().get::<Tenant>())
                .map_or("none".to_owned(), |t| t.0.clone());
            if req.s == "fail" {
                Err(synkit_core::Error::RateLimited)
            } else {
                Ok(format!("{tenant}:{}", req.s))
            }
        });
        Handler::new(endpoint, decode_json::<Echo>, encode_json)
            .before(|_cx, req| {
                let tenant = req
                    .headers()
                    .get("x-tenant")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("anon");
                let tenant = Tenant(tenant.to_owned());
                req.extensions_mut().insert(tenant);
            })
            .after(|_cx, resp| {
                resp.headers_mut()
                    .insert("x-after", HeaderValue::from_static("yes"));
            })
            .error_handler(move |_cx, err| l1.lock().unwrap().push(format!("error: {err}")))
            .finalizer(move |_cx, status, size| {
                l2.lock().unwrap().push(format!("final: {status} {size}"));
            })
            .finalizer(move |_cx, _status, _size| {
                l3.lock().unwrap().push("second finalizer".into());
            })
    }

    fn call(service: &impl Service, tenant: Option<&str>, body: &str) -> Response<Vec<u8>> {
        let mut req = Request::new(body.as_bytes().to_vec());
        if let Some(t) = tenant {
            req.headers_mut()
                .insert("x-tenant", HeaderValue::from_str(t).unwrap());
        }
        let mut resp = Response::new(Vec::new());
        service.serve(&Context::background(), &mut req, &mut resp);
        resp
    }

    #[test]
    fn hooks_run_in_go_kits_order_around_a_success() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let h = handler(&log);
        let resp = call(&h, Some("acme"), r#"{"s":"hi"}"#);
        assert_eq!(
            resp.body(),
            b"\"acme:hi\"\n",
            "the before hook's value reached the endpoint"
        );
        assert_eq!(resp.headers()["x-after"], "yes");
        assert_eq!(
            *log.lock().unwrap(),
            ["final: 200 OK 10", "second finalizer"]
        );
    }

    #[test]
    fn errors_go_to_the_handler_and_the_encoder_and_skip_after_hooks() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let h = handler(&log);
        let resp = call(&h, None, r#"{"s":"fail"}"#);
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "1");
        assert!(resp.headers().get("x-after").is_none());
        let log = log.lock().unwrap();
        assert!(log[0].starts_with("error: rate limit exceeded"), "{log:?}");
        assert!(log[1].starts_with("final: 429"), "{log:?}");
    }

    #[test]
    fn a_custom_error_encoder_replaces_the_default() {
        let endpoint =
            endpoint_fn(|_: &Context<'_>, (): ()| Err::<(), _>(synkit_core::Error::Unavailable));
        let h = Handler::new(
            endpoint,
            |_: &Context<'_>, _: &Request<Vec<u8>>| Ok(()),
            |_: &Context<'_>, (), _: &mut Response<Vec<u8>>| Ok(()),
        )
        .error_encoder(|_cx, err, resp| {
            *resp.body_mut() = format!("custom: {}", err.status_code().as_u16()).into_bytes();
            *resp.status_mut() = StatusCode::IM_A_TEAPOT;
        });
        let mut resp = Response::new(Vec::new());
        h.serve(
            &Context::background(),
            &mut Request::new(Vec::new()),
            &mut resp,
        );
        assert_eq!(resp.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(resp.body(), b"custom: 503");
    }
}
