//! The add service over HTTP in Go kit's addsvc wire format:
//!
//! - `/sum` `{"a":1,"b":2}` → `{"v":3}`;
//! - `/concat` `{"a":"1","b":"2"}` → `{"v":"12"}`;
//! - a business error → 400 with `{"error":"integer overflow"}` (Go kit's
//!   `errorEncoder`).
//!
//! As in Go kit's addsvc, any method is served (`http.Handle`) and requests
//! are decoded as Go's `encoding/json` decodes them ([`decode_go_json`]):
//! `{"A":1,"B":2}` works too, and a missing field is zero.

use serde::{Deserialize, Serialize};
use synkit_core::endpoint::endpoint_fn;
use synkit_core::{Context, Endpoint};
use synkit_transports::http::StatusCode;
use synkit_transports::http::server::{
    ErrorResponse, Handler, Router, decode_go_json, encode_json, go_json,
};

use super::{AddError, AddService};

/// Input of `sum`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SumRequest {
    /// First addend.
    pub a: i64,
    /// Second addend.
    pub b: i64,
}

/// Input of `concat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcatRequest {
    /// First part.
    pub a: String,
    /// Second part.
    pub b: String,
}

/// Output of either method: `{"v": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply<T> {
    /// The result.
    pub v: T,
}

impl ErrorResponse for AddError {
    fn status_code(&self) -> StatusCode {
        match self {
            AddError::Synkit(e) => e.status_code(),
            // Go kit's err2code: the three business errors are the caller's.
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn json_body(&self) -> Option<Vec<u8>> {
        let mut body = go_json(&serde_json::json!({ "error": self.to_string() })).ok()?;
        body.push(b'\n');
        Some(body)
    }
}

/// `sum` as an endpoint.
pub fn sum_endpoint<S: AddService>(
    svc: S,
) -> impl Endpoint<SumRequest, Response = Reply<i64>, Error = AddError> {
    endpoint_fn(move |cx: &Context<'_>, req: SumRequest| {
        cx.check()?;
        svc.sum(req.a, req.b).map(|v| Reply { v })
    })
}

/// `concat` as an endpoint.
pub fn concat_endpoint<S: AddService>(
    svc: S,
) -> impl Endpoint<ConcatRequest, Response = Reply<String>, Error = AddError> {
    endpoint_fn(move |cx: &Context<'_>, req: ConcatRequest| {
        cx.check()?;
        svc.concat(&req.a, &req.b).map(|v| Reply { v })
    })
}

/// The whole HTTP service.
pub fn router<S: AddService + Clone + Send + Sync + 'static>(svc: S) -> Router {
    Router::new()
        .any(
            "/sum",
            Handler::new(
                sum_endpoint(svc.clone()),
                decode_go_json::<SumRequest>,
                encode_json,
            ),
        )
        .any(
            "/concat",
            Handler::new(
                concat_endpoint(svc),
                decode_go_json::<ConcatRequest>,
                encode_json,
            ),
        )
}

#[cfg(test)]
mod tests {
    use synkit_transports::http::Method;
    use synkit_transports::http::Request;
    use synkit_transports::http::server::Service;

    use super::*;
    use crate::addsvc::Adder;

    fn post(path: &str, body: &str) -> (StatusCode, String) {
        let mut req = Request::new(body.as_bytes().to_vec());
        *req.method_mut() = Method::POST;
        *req.uri_mut() = path.parse().unwrap();
        let mut req = req;
        let mut resp = synkit_transports::http::Response::new(Vec::new());
        router(Adder).serve(&Context::background(), &mut req, &mut resp);
        (
            resp.status(),
            String::from_utf8(resp.body().clone()).unwrap(),
        )
    }

    #[test]
    fn speaks_go_kits_addsvc_wire_format() {
        assert_eq!(
            post("/sum", r#"{"a":1,"b":2}"#),
            (StatusCode::OK, "{\"v\":3}\n".into())
        );
        assert_eq!(
            post("/sum", r#"{"A":40,"B":2}"#),
            (StatusCode::OK, "{\"v\":42}\n".into())
        );
        assert_eq!(
            post("/concat", r#"{"a":"1","b":"2"}"#),
            (StatusCode::OK, "{\"v\":\"12\"}\n".into())
        );
        assert_eq!(
            post("/sum", r#"{"a":0,"b":0}"#),
            (
                StatusCode::BAD_REQUEST,
                "{\"error\":\"can't sum two zeroes\"}\n".into()
            )
        );
        assert_eq!(
            post("/sum", r#"{"a":2147483647,"b":1}"#),
            (
                StatusCode::BAD_REQUEST,
                "{\"error\":\"integer overflow\"}\n".into()
            )
        );
        assert_eq!(
            post("/concat", r#"{"a":"123456","b":"789012"}"#),
            (
                StatusCode::BAD_REQUEST,
                "{\"error\":\"result exceeds maximum size\"}\n".into()
            )
        );
    }
}
