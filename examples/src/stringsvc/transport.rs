//! The string service over HTTP, in Go kit's stringsvc wire format:
//!
//! - `/uppercase` `{"s":"hello"}` → `{"v":"HELLO"}`; the empty string →
//!   `{"v":"","err":"empty string"}` (status 200: as in Go kit, a business
//!   error travels in the response);
//! - `/count` `{"s":"abc"}` → `{"v":3}`;
//! - `GET /health` → `{"status":"ok"}` (synkit's addition).
//!
//! As in Go kit's stringsvc, `/uppercase` and `/count` answer any method
//! (Go kit binds them with `http.Handle`; its stringsvc3 proxies with GET
//! and a JSON body), and requests are decoded as Go's `encoding/json`
//! decodes them ([`decode_go_json`]).
//!
//! Deliberately unlike Go kit: malformed JSON is a 400 with a JSON error
//! body (Go kit's default error encoder answers 500 with Go's parser
//! message as text), and synkit's own error kinds answer with their
//! statuses (429, 503, 504).

use serde::{Deserialize, Serialize};
use synkit_core::endpoint::endpoint_fn;
use synkit_core::{Context, Endpoint};
use synkit_transports::http::server::{
    ErrorResponse, Handler, Router, decode_go_json, encode_json, service_fn,
};
use synkit_transports::http::{HeaderValue, Method, StatusCode, header};

use super::endpoints::{CountRequest, UppercaseRequest, count_endpoint, uppercase_endpoint};
use super::{StringError, StringService};

/// `uppercase` on the wire: the service's error, if any, in `err`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UppercaseReply {
    /// The upper-cased string, empty on error.
    pub v: String,
    /// The service's error text, left out when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err: Option<String>,
}

impl ErrorResponse for StringError {
    fn status_code(&self) -> StatusCode {
        match self {
            StringError::Empty => StatusCode::BAD_REQUEST,
            StringError::Synkit(e) => e.status_code(),
        }
    }
}

/// `uppercase` as Go kit's `makeUppercaseEndpoint` builds it: the service's
/// own error becomes the reply's `err`; only synkit's errors stay errors.
pub fn uppercase_reply_endpoint<S: StringService>(
    svc: S,
) -> impl Endpoint<UppercaseRequest, Response = UppercaseReply, Error = StringError> {
    let inner = uppercase_endpoint(svc);
    endpoint_fn(
        move |cx: &Context<'_>, req: UppercaseRequest| match inner.call(cx, req) {
            Ok(resp) => Ok(UppercaseReply {
                v: resp.v,
                err: None,
            }),
            Err(StringError::Empty) => Ok(UppercaseReply {
                v: String::new(),
                err: Some(StringError::Empty.to_string()),
            }),
            Err(e) => Err(e),
        },
    )
}

/// The whole HTTP service: both methods plus `GET /health` (wrap `svc` in
/// [`LoggingMiddleware`](super::logging::LoggingMiddleware) to log calls).
pub fn router<S: StringService + Clone + Send + Sync + 'static>(svc: S) -> Router {
    let uppercase = Handler::new(
        uppercase_reply_endpoint(svc.clone()),
        decode_go_json::<UppercaseRequest>,
        encode_json,
    );
    let count = Handler::new(
        count_endpoint(svc),
        decode_go_json::<CountRequest>,
        encode_json,
    );
    let health = service_fn(|_cx, _req, resp| {
        resp.body_mut().extend_from_slice(b"{\"status\":\"ok\"}\n");
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    });
    Router::new()
        .any("/uppercase", uppercase)
        .any("/count", count)
        .route(Method::GET, "/health", health)
}

#[cfg(test)]
mod tests {
    use synkit_transports::http::server::Service;
    use synkit_transports::http::{Request, Response};

    use super::*;
    use crate::stringsvc::Strings;

    fn post(router: &Router, path: &str, body: &str) -> Response<Vec<u8>> {
        let mut req = Request::new(body.as_bytes().to_vec());
        *req.method_mut() = Method::POST;
        *req.uri_mut() = path.parse().unwrap();
        let mut resp = Response::new(Vec::new());
        router.serve(&Context::background(), &mut req, &mut resp);
        resp
    }

    #[test]
    fn speaks_go_kits_stringsvc_wire_format() {
        let r = router(Strings);
        let ok = post(&r, "/uppercase", r#"{"s":"hello"}"#);
        assert_eq!(
            (ok.status(), ok.body().as_slice()),
            (StatusCode::OK, &b"{\"v\":\"HELLO\"}\n"[..])
        );
        let empty = post(&r, "/uppercase", r#"{"s":""}"#);
        assert_eq!(empty.body(), b"{\"v\":\"\",\"err\":\"empty string\"}\n");
        assert_eq!(post(&r, "/count", r#"{"s":"abc"}"#).body(), b"{\"v\":3}\n");
    }

    #[test]
    fn malformed_json_is_a_400_with_a_json_error() {
        let resp = post(&router(Strings), "/count", "{\"s\":");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert!(
            body["error"].as_str().unwrap().starts_with("invalid JSON"),
            "{body}"
        );
    }
}
