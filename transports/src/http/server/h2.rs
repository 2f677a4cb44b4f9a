//! HTTP services over HTTP/2: the same [`Service`] an HTTP/1.1 connection
//! reaches, for a request HTTP/2 carried. The request becomes an
//! `http::Request` (version `HTTP/2.0`, `:authority` as its `Host`), the
//! service's `http::Response` goes back as HTTP/2 fields, without the
//! fields only HTTP/1.1 has, with its `content-length` and `date` as
//! Go's `net/http` sends them.

use std::cell::RefCell;
use std::fmt;
use std::time::SystemTime;

use ::http::header::{self, HeaderName, HeaderValue};
use ::http::{Method, Request, Response, StatusCode, Uri, Version};
use synkit_core::Context;
use synkit_core::time::Duration;

use super::h1::parse::ParseError;
use super::h1::write::DateCache;
use super::reply::{write_error, write_failure};
use super::{
    HttpHandler, REQUEST_TIMEOUT_HEADER, ServerConfig, Service, asked_timeout, timeout_refusal,
};
use crate::engine::{Failure, Serve};
use crate::h2::fields::{Common, interned};
use crate::h2::{self, Field, Fields};

/// Field names HTTP requests and answers commonly carry: kept as
/// constants, not copies.
const COMMON_NAMES: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "authorization",
    "cache-control",
    "content-length",
    "content-type",
    "cookie",
    "date",
    "host",
    "user-agent",
];

/// Field values they commonly carry.
const COMMON_VALUES: &[&str] = &[
    "*/*",
    "application/json",
    "application/json; charset=utf-8",
    "gzip, deflate, br",
    "no-cache",
    "text/plain; charset=utf-8",
];

/// Fields only HTTP/1.1 has, which an HTTP/2 answer must not carry
/// (RFC 9113 §8.2.2): dropped from what the service wrote.
const HTTP1_ONLY: [HeaderName; 4] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    HeaderName::from_static("keep-alive"),
];

/// How HTTP/2 connections of an HTTP server take their requests: the
/// server's body limit and request timeout, which `X-Request-Timeout-Ms`
/// may shorten, as over HTTP/1.1.
pub(crate) fn options(config: &ServerConfig) -> h2::server::Options {
    h2::server::Options {
        timeout: config.request_timeout,
        max_body: config.max_body_bytes,
        deadline,
        common: Common {
            names: COMMON_NAMES,
            values: COMMON_VALUES,
        },
        authority: true,
    }
}

/// The deadline a request asks for, over HTTP/2 as over HTTP/1.1: its
/// `X-Request-Timeout-Ms`, when that is well formed.
pub(crate) fn deadline(request: &h2::Request) -> Option<Duration> {
    asked_timeout(request.header(REQUEST_TIMEOUT_HEADER)?.as_bytes())
}

/// A request named in a log line: its method and path.
struct Label<'a>(&'a h2::Request);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0.method, self.0.path)
    }
}

impl<S: Service> Serve<h2::server::Connection> for HttpHandler<S> {
    fn describe<'a>(&self, exchange: &'a h2::Exchange) -> impl fmt::Display + 'a {
        Label(&exchange.request)
    }

    fn handle(
        &self,
        cx: &Context<'_>,
        exchange: &mut h2::Exchange,
        _: Option<&crate::engine::parts::Parts<h2::Exchange>>,
    ) {
        let head_only = *exchange.request.method == *"HEAD";
        let mut resp = Response::new(Vec::new());
        match http_request(&mut exchange.request) {
            Ok(mut req) => self.0.serve(cx, &mut req, &mut resp),
            Err((status, why)) => write_error(&mut resp, status, why),
        }
        exchange.response = h2_response(resp, head_only);
    }

    fn fail(&self, exchange: &mut h2::Exchange, failure: Failure) {
        let mut resp = Response::new(Vec::new());
        write_failure(&mut resp, failure);
        exchange.response = h2_response(resp, false);
    }
}

/// The request as the service takes it, or the status that refuses it
/// before the service sees it (as HTTP/1.1's parser would).
fn http_request(request: &mut h2::Request) -> Result<Request<Vec<u8>>, (StatusCode, &'static str)> {
    if request.over_limit {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            ParseError::BodyTooLarge.reason(),
        ));
    }
    if let Some(value) = request.header(REQUEST_TIMEOUT_HEADER)
        && let Some(refusal) = timeout_refusal(asked_timeout(value.as_bytes()))
    {
        return Err(refusal);
    }
    let bad = |why| (StatusCode::BAD_REQUEST, why);
    let method =
        Method::from_bytes(request.method.as_bytes()).map_err(|_| bad("invalid method"))?;
    let uri = Uri::try_from(std::mem::take(&mut request.path)).map_err(|_| bad("invalid :path"))?;
    let mut req = Request::new(std::mem::take(&mut request.body));
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_2;
    let headers = req.headers_mut();
    headers.reserve(request.headers.len() + 1);
    for (name, value) in request.headers.drain(..) {
        let name = match name {
            Field::Borrowed(n) => HeaderName::from_static(n),
            Field::Owned(n) => {
                HeaderName::from_bytes(n.as_bytes()).map_err(|_| bad("invalid field name"))?
            }
        };
        headers.append(
            name,
            header_value(value).map_err(|_| bad("invalid field value"))?,
        );
    }
    // `:authority` stands for HTTP/1.1's Host (RFC 9113 §8.3.1).
    if let Some(authority) = request.authority.take()
        && !headers.contains_key(header::HOST)
    {
        headers.insert(
            header::HOST,
            header_value(authority).map_err(|_| bad("invalid :authority"))?,
        );
    }
    Ok(req)
}

fn header_value(value: Field) -> Result<HeaderValue, header::InvalidHeaderValue> {
    match value {
        Field::Borrowed(v) => Ok(HeaderValue::from_static(v)),
        Field::Owned(v) => HeaderValue::from_maybe_shared(bytes::Bytes::from(v)),
    }
}

thread_local! {
    /// Each thread's `date`, formatted once a second.
    static DATE: RefCell<DateCache> = RefCell::new(DateCache::new());
}

/// The service's answer as HTTP/2 fields: HTTP/1.1's own fields dropped,
/// `content-length` and `date` added where the service gave none, the body
/// left out for `HEAD`.
fn h2_response(resp: Response<Vec<u8>>, head_only: bool) -> h2::Response {
    let (parts, mut body) = resp.into_parts();
    let mut fields: Vec<(Field, Field)> = Vec::with_capacity(parts.headers.len() + 2);
    let mut name_of = None;
    for (name, value) in parts.headers {
        // `None` repeats the previous name (the map's iteration).
        if let Some(name) = name {
            name_of = Some(name);
        }
        let Some(name) = &name_of else { continue };
        if HTTP1_ONLY.contains(name) {
            continue;
        }
        let Ok(value) = value.to_str() else {
            // Not text: HTTP/2 carries it, but our fields are text.
            continue;
        };
        fields.push((
            interned(name.as_str(), COMMON_NAMES),
            interned(value, COMMON_VALUES),
        ));
    }
    let status = parts.status.as_u16();
    let bodiless = status == 204 || status == 304 || (100..200).contains(&status);
    if !bodiless && !fields.iter().any(|(n, _)| n == "content-length") {
        fields.push(("content-length".into(), body.len().to_string().into()));
    }
    if !fields.iter().any(|(n, _)| n == "date") {
        let date = DATE.with(|d| {
            let secs = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            String::from_utf8_lossy(d.borrow_mut().get(secs)).into_owned()
        });
        fields.push(("date".into(), date.into()));
    }
    if head_only || bodiless {
        body = Vec::new();
    }
    h2::Response {
        status,
        headers: Fields::Owned(fields),
        body,
        trailers: Fields::Borrowed(&[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&'static str, &'static str)]) -> h2::Request {
        h2::Request {
            method: "POST".into(),
            scheme: "http".into(),
            path: "/a/b?c=d".into(),
            authority: Some("example.com:8080".into()),
            headers: headers.iter().map(|&(n, v)| (n.into(), v.into())).collect(),
            body: b"{}".to_vec(),
            over_limit: false,
        }
    }

    fn status(result: Result<Request<Vec<u8>>, (StatusCode, &'static str)>) -> StatusCode {
        result.map_or_else(|(status, _)| status, |_| StatusCode::OK)
    }

    #[test]
    fn a_request_reaches_the_service_as_http_with_its_authority_as_host() {
        let mut r = request(&[
            ("content-type", "application/json"),
            ("x-a", "1"),
            ("x-a", "2"),
        ]);
        let req = http_request(&mut r).unwrap();
        assert_eq!(req.version(), Version::HTTP_2);
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri().path(), "/a/b");
        assert_eq!(req.uri().query(), Some("c=d"));
        assert_eq!(req.headers()["host"], "example.com:8080");
        assert_eq!(req.headers().get_all("x-a").iter().count(), 2);
        assert_eq!(req.body(), b"{}");
        // A `host` field of its own stands.
        let mut r = request(&[("host", "other")]);
        assert_eq!(http_request(&mut r).unwrap().headers()["host"], "other");
    }

    #[test]
    fn requests_refused_before_the_service_get_http1s_statuses() {
        let mut r = request(&[]);
        r.over_limit = true;
        assert_eq!(status(http_request(&mut r)), StatusCode::PAYLOAD_TOO_LARGE);
        let mut r = request(&[("x-request-timeout-ms", "soon")]);
        assert_eq!(status(http_request(&mut r)), StatusCode::BAD_REQUEST);
        let mut r = request(&[("x-request-timeout-ms", "0")]);
        assert_eq!(status(http_request(&mut r)), StatusCode::GATEWAY_TIMEOUT);
        let mut r = request(&[("x-request-timeout-ms", "250")]);
        assert_eq!(deadline(&r), Some(Duration::from_millis(250)));
        assert_eq!(status(http_request(&mut r)), StatusCode::OK);
        let mut r = request(&[]);
        r.path = "/a b".into();
        assert_eq!(status(http_request(&mut r)), StatusCode::BAD_REQUEST);
    }

    fn answer(
        status: u16,
        fields: &[(&'static str, &'static str)],
        body: &[u8],
    ) -> Response<Vec<u8>> {
        let mut resp = Response::new(body.to_vec());
        *resp.status_mut() = StatusCode::from_u16(status).unwrap();
        for &(n, v) in fields {
            resp.headers_mut().append(n, HeaderValue::from_static(v));
        }
        resp
    }

    fn field<'a>(r: &'a h2::Response, name: &str) -> Vec<&'a str> {
        r.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
            .collect()
    }

    #[test]
    fn an_answer_drops_http1s_own_fields_and_gains_its_length_and_date() {
        let resp = answer(
            200,
            &[
                ("connection", "keep-alive"),
                ("keep-alive", "timeout=5"),
                ("transfer-encoding", "chunked"),
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2"),
            ],
            b"hello",
        );
        let r = h2_response(resp, false);
        assert_eq!(r.status, 200);
        for gone in ["connection", "keep-alive", "transfer-encoding"] {
            assert!(field(&r, gone).is_empty(), "{gone}");
        }
        assert_eq!(field(&r, "set-cookie"), ["a=1", "b=2"]);
        assert_eq!(field(&r, "content-length"), ["5"]);
        assert_eq!(field(&r, "date").len(), 1);
        assert_eq!(r.body, b"hello");
    }

    #[test]
    fn head_and_bodiless_statuses_send_no_body() {
        // HEAD: GET's length, no bytes.
        let r = h2_response(answer(200, &[], b"hello"), true);
        assert_eq!(field(&r, "content-length"), ["5"]);
        assert!(r.body.is_empty());
        // 204 and 304 carry neither.
        for status in [204, 304] {
            let r = h2_response(answer(status, &[], b"ignored"), false);
            assert!(field(&r, "content-length").is_empty(), "{status}");
            assert!(r.body.is_empty(), "{status}");
        }
        // A length the service set stands.
        let r = h2_response(answer(200, &[("content-length", "5")], b"hello"), false);
        assert_eq!(field(&r, "content-length"), ["5"]);
    }
}
