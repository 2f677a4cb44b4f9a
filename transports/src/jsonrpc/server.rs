//! The JSON-RPC server: one HTTP route, many methods.

use std::collections::HashMap;
use std::fmt;

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use synkit_core::{Context, Endpoint};

use super::{JsonRpcError, code};
use crate::http::header::{self, HeaderValue};
use crate::http::server::Service;
use crate::http::{Method, Request, Response, StatusCode};

/// The most calls one batch may hold; a larger batch is refused whole
/// (-32600) before any call runs.
pub const MAX_BATCH: usize = 1000;

type Call = Box<dyn Fn(&Context<'_>, &str) -> Result<Box<RawValue>, JsonRpcError> + Send + Sync>;

/// One call as it arrives: params and id kept as their raw JSON.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(default)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(default)]
    method: Option<Value>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
    // Present-but-null is an id (answered); absent is a notification.
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// One answer, in Go kit's key order.
#[derive(Serialize)]
struct Outgoing<'a> {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a JsonRpcError>,
    id: &'a RawValue,
}

/// What makes a request object invalid (JSON-RPC 2.0 §4.1), and the id
/// its error answer carries (`null` when the id itself is what is wrong).
fn invalid<'a>(call: &Incoming<'a>) -> Option<(&'a RawValue, &'static str)> {
    let id_ok = call.id.is_none_or(|id| {
        let first = id.get().as_bytes().first().copied().unwrap_or(b'x');
        first == b'"' || first == b'-' || first == b'n' || first.is_ascii_digit()
    });
    if !id_ok {
        return Some((null(), "id must be a number, a string or null"));
    }
    let reply_id = call.id.unwrap_or_else(|| null());
    if !matches!(call.jsonrpc.as_deref(), None | Some("2.0" | "")) {
        // Go kit 0.10's client sends "" (and its server checks nothing):
        // absent and empty pass, another version does not.
        return Some((reply_id, "jsonrpc must be \"2.0\""));
    }
    if !matches!(call.method, Some(Value::String(_))) {
        return Some((reply_id, "method must be a string"));
    }
    None
}

fn null() -> &'static RawValue {
    // A constant that is valid JSON.
    serde_json::from_str("null").unwrap_or_else(|_| unreachable!())
}

/// Methods served over JSON-RPC 2.0: Go kit's `jsonrpc.Server` over an
/// `EndpointCodecMap`.
///
/// As Go kit's: `POST` only (405 `405 must POST` otherwise); a body that is
/// not JSON is a parse error (-32700), an unknown method -32601, params that
/// do not decode -32602, and an endpoint's error whatever code its error
/// mapper gives (Go kit's `ErrorCoder`); errors are answered with HTTP 200;
/// the response is `{"jsonrpc":"2.0","result":…,"id":…}` and a newline.
/// Beyond Go kit, as the spec asks: a request that names a version other
/// than `"2.0"` is refused (-32600; an empty or absent one passes, since
/// Go kit 0.10's own client sends `""`); a request without an `id` is a notification and gets
/// no response (204 if nothing else is answered); an array is a batch,
/// answered with an array in order (empty or over [`MAX_BATCH`]: -32600);
/// and error responses carry the request's id (Go kit's carry `null`).
/// Every call of a batch runs under the request's [`Context`].
#[derive(Default)]
pub struct Server {
    methods: HashMap<String, Call>,
}

impl Server {
    /// A server with no methods.
    pub fn new() -> Server {
        Server::default()
    }

    /// Serves `endpoint` as `name`: its params decoded from JSON as the
    /// endpoint's request, its response encoded as the result, its errors
    /// mapped by `error` (for example [`JsonRpcError::internal`]).
    #[must_use]
    pub fn method<E, Req>(
        self,
        name: &str,
        endpoint: E,
        error: fn(&dyn fmt::Display) -> JsonRpcError,
    ) -> Server
    where
        E: Endpoint<Req> + Send + Sync + 'static,
        E::Response: Serialize,
        E::Error: fmt::Display,
        Req: DeserializeOwned,
    {
        self.method_with(name, endpoint, move |e: &E::Error| error(e))
    }

    /// Serves a method whose errors carry their own codes: `error` maps the
    /// endpoint's error to a JSON-RPC error (Go kit's `ErrorCoder`).
    #[must_use]
    pub fn method_with<E, Req>(
        mut self,
        name: &str,
        endpoint: E,
        error: impl Fn(&E::Error) -> JsonRpcError + Send + Sync + 'static,
    ) -> Server
    where
        E: Endpoint<Req> + Send + Sync + 'static,
        E::Response: Serialize,
        Req: DeserializeOwned,
    {
        let call = move |cx: &Context<'_>, params: &str| -> Result<Box<RawValue>, JsonRpcError> {
            let req: Req = serde_json::from_str(params).map_err(|e| {
                JsonRpcError::new(code::INVALID_PARAMS, format!("invalid params: {e}"))
            })?;
            let out = endpoint.call(cx, req).map_err(|e| error(&e))?;
            serde_json::value::to_raw_value(&out).map_err(|e| JsonRpcError::internal(&e))
        };
        self.methods.insert(name.to_owned(), Box::new(call));
        self
    }

    /// One call, its answer written to `out` (with a leading comma unless
    /// `first`); `false` for a notification, which writes nothing.
    fn one(&self, cx: &Context<'_>, call: &RawValue, first: bool, out: &mut Vec<u8>) -> bool {
        let sep = |out: &mut Vec<u8>| {
            if !first {
                out.push(b',');
            }
        };
        let Ok(call) = serde_json::from_str::<Incoming<'_>>(call.get()) else {
            sep(out);
            write_failure(
                out,
                null(),
                code::INVALID_REQUEST,
                "the request is not a valid request object",
            );
            return true;
        };
        if let Some((reply_id, problem)) = invalid(&call) {
            sep(out);
            write_failure(out, reply_id, code::INVALID_REQUEST, problem);
            return true;
        }
        let Some(Value::String(method)) = &call.method else {
            return false;
        };
        let params = call.params.map_or("null", RawValue::get);
        let outcome = match self.methods.get(method.as_str()) {
            // Go kit's words.
            None => Err(JsonRpcError::new(
                code::METHOD_NOT_FOUND,
                format!("Method {method} was not found."),
            )),
            Some(run) => run(cx, params),
        };
        // Without an id, a notification: run, answer nothing.
        let Some(id) = call.id else {
            return false;
        };
        sep(out);
        let answer = match &outcome {
            Ok(result) => Outgoing {
                jsonrpc: "2.0",
                result: Some(result),
                error: None,
                id,
            },
            Err(e) => Outgoing {
                jsonrpc: "2.0",
                result: None,
                error: Some(e),
                id,
            },
        };
        if serde_json::to_writer(&mut *out, &answer).is_err() {
            write_failure(
                out,
                id,
                code::INTERNAL_ERROR,
                "the response could not be encoded",
            );
        }
        true
    }
}

fn write_failure(out: &mut Vec<u8>, id: &RawValue, code: i64, message: &str) {
    let error = JsonRpcError::new(code, message);
    let answer = Outgoing {
        jsonrpc: "2.0",
        result: None,
        error: Some(&error),
        id,
    };
    let _ = serde_json::to_writer(out, &answer);
}

impl Service for Server {
    fn serve(&self, cx: &Context<'_>, req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>) {
        if req.method() != Method::POST {
            *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            resp.body_mut().extend_from_slice(b"405 must POST\n");
            return;
        }
        let body = std::mem::take(req.body_mut());
        let out = resp.body_mut();
        let trimmed = body.trim_ascii_start();
        let answered = if trimmed.first() == Some(&b'[') {
            match serde_json::from_slice::<Vec<&RawValue>>(trimmed) {
                Err(e) => {
                    write_failure(
                        out,
                        null(),
                        code::PARSE_ERROR,
                        &format!("JSON could not be decoded: {e}"),
                    );
                    true
                }
                Ok(calls) if calls.is_empty() => {
                    write_failure(out, null(), code::INVALID_REQUEST, "an empty batch");
                    true
                }
                Ok(calls) if calls.len() > MAX_BATCH => {
                    let message = format!("a batch of {} calls; at most {MAX_BATCH}", calls.len());
                    write_failure(out, null(), code::INVALID_REQUEST, &message);
                    true
                }
                Ok(calls) => {
                    out.push(b'[');
                    let mut first = true;
                    for call in calls {
                        if self.one(cx, call, first, out) {
                            first = false;
                        }
                    }
                    out.push(b']');
                    if first {
                        out.clear();
                    }
                    !first
                }
            }
        } else {
            match serde_json::from_slice::<&RawValue>(trimmed) {
                Err(e) => {
                    write_failure(
                        out,
                        null(),
                        code::PARSE_ERROR,
                        &format!("JSON could not be decoded: {e}"),
                    );
                    true
                }
                Ok(call) => self.one(cx, call, true, out),
            }
        };
        if !answered {
            *resp.status_mut() = StatusCode::NO_CONTENT;
            return;
        }
        resp.body_mut().push(b'\n');
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.methods.keys().collect();
        names.sort();
        f.debug_struct("Server").field("methods", &names).finish()
    }
}

#[cfg(test)]
mod tests {
    use synkit_core::Error;
    use synkit_core::endpoint::endpoint_fn;

    use super::*;

    #[derive(Deserialize)]
    struct Sum {
        a: i64,
        b: i64,
    }

    fn server() -> Server {
        let sum = endpoint_fn(|_: &Context<'_>, s: Sum| {
            if s.a == 0 && s.b == 0 {
                Err(Error::Unavailable)
            } else {
                Ok(serde_json::json!({ "v": s.a + s.b }))
            }
        });
        Server::new().method_with("sum", sum, |e: &Error| {
            JsonRpcError::new(-32000, e.to_string())
        })
    }

    fn post(server: &Server, body: &[u8]) -> (StatusCode, String) {
        let mut req = Request::new(body.to_vec());
        *req.method_mut() = Method::POST;
        let mut resp = Response::new(Vec::new());
        server.serve(&Context::background(), &mut req, &mut resp);
        (resp.status(), String::from_utf8(resp.into_body()).unwrap())
    }

    #[test]
    fn calls_answer_as_go_kit_does_with_the_spec_beyond_it() {
        let s = server();
        let ok = |body: &str, want: &str| {
            assert_eq!(
                post(&s, body.as_bytes()),
                (StatusCode::OK, format!("{want}\n")),
                "{body}"
            );
        };
        ok(
            r#"{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":2},"id":1}"#,
            r#"{"jsonrpc":"2.0","result":{"v":3},"id":1}"#,
        );
        ok(
            r#"{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":2},"id":"x"}"#,
            r#"{"jsonrpc":"2.0","result":{"v":3},"id":"x"}"#,
        );
        ok(
            r#"{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":2},"id":null}"#,
            r#"{"jsonrpc":"2.0","result":{"v":3},"id":null}"#,
        );
        ok(
            r#"{"jsonrpc":"2.0","method":"sum","params":{"a":0,"b":0},"id":2}"#,
            r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"unavailable: no endpoint could serve the call"},"id":2}"#,
        );
        ok(
            r#"{"jsonrpc":"2.0","method":"nope","id":3}"#,
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method nope was not found."},"id":3}"#,
        );
        // By position is as good as by name.
        ok(
            r#"{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":4}"#,
            r#"{"jsonrpc":"2.0","result":{"v":3},"id":4}"#,
        );
        ok(
            r#"{"jsonrpc":"2.0","method":"sum","params":"two","id":5}"#,
            r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"invalid params: invalid type: string \"two\", expected struct Sum at line 1 column 5"},"id":5}"#,
        );
    }

    #[test]
    fn malformed_requests_get_the_specs_errors() {
        let s = server();
        let code_of = |body: &str| {
            let (status, text) = post(&s, body.as_bytes());
            assert_eq!(status, StatusCode::OK, "{body}");
            let v: Value = serde_json::from_str(&text).unwrap();
            v["error"]["code"].as_i64().unwrap()
        };
        assert_eq!(code_of("{"), code::PARSE_ERROR);
        assert_eq!(code_of("not json"), code::PARSE_ERROR);
        assert_eq!(code_of("[1,"), code::PARSE_ERROR);
        assert_eq!(code_of("42"), code::INVALID_REQUEST);
        assert_eq!(code_of("[]"), code::INVALID_REQUEST);
        assert_eq!(
            code_of(r#"{"jsonrpc":"1.0","method":"sum","id":1}"#),
            code::INVALID_REQUEST
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","method":7,"id":1}"#),
            code::INVALID_REQUEST
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","method":"sum","id":{"x":1}}"#),
            code::INVALID_REQUEST
        );
        let huge = format!(
            "[{}]",
            vec![r#"{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":1},"id":1}"#; 10_000]
                .join(",")
        );
        assert_eq!(code_of(&huge), code::INVALID_REQUEST);
    }

    #[test]
    fn batches_answer_in_order_and_notifications_not_at_all() {
        let s = server();
        let (status, text) = post(
            &s,
            br#"[{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":2},"id":1},
                 {"jsonrpc":"2.0","method":"sum","params":{"a":5,"b":5}},
                 7,
                 {"jsonrpc":"2.0","method":"nope","id":"z"}]"#,
        );
        assert_eq!(status, StatusCode::OK);
        let v: Value = serde_json::from_str(&text).unwrap();
        let answers = v.as_array().unwrap();
        assert_eq!(answers.len(), 3, "{text}");
        assert_eq!(answers[0]["result"]["v"], 3);
        assert_eq!(answers[1]["error"]["code"], code::INVALID_REQUEST);
        assert_eq!(answers[2]["id"], "z");
        let (status, text) = post(
            &s,
            br#"{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":2}}"#,
        );
        assert_eq!((status, text.as_str()), (StatusCode::NO_CONTENT, ""));
        let (status, _) = post(
            &s,
            br#"[{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":2}}]"#,
        );
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    #[test]
    fn only_post_is_served() {
        let mut req = Request::new(Vec::new());
        *req.method_mut() = Method::GET;
        let mut resp = Response::new(Vec::new());
        server().serve(&Context::background(), &mut req, &mut resp);
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.body(), b"405 must POST\n");
    }
}
