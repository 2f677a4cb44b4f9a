//! Calling one method of a JSON-RPC server: Go kit's `jsonrpc.Client`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use synkit_core::{Context, Endpoint};

use super::JsonRpcError;
use crate::http::client::{Client, ClientError};
use crate::http::header::{self, HeaderValue};
use crate::http::{Method, Request, Response, Uri};

/// Why a JSON-RPC call failed.
#[derive(Debug)]
pub enum CallError {
    /// The server answered with an error object.
    Rpc(JsonRpcError),
    /// The call did not get an answer (transport, status or codec).
    Client(ClientError),
}

impl From<ClientError> for CallError {
    fn from(e: ClientError) -> Self {
        CallError::Client(e)
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Rpc(e) => e.fmt(f),
            CallError::Client(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CallError {}

#[derive(Serialize)]
struct Outgoing<'a, P> {
    jsonrpc: &'static str,
    method: &'a str,
    params: P,
    id: u64,
}

#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<JsonRpcError>,
}

/// An endpoint that calls `method` on the JSON-RPC server at `url`: the
/// request becomes `params`, the `result` becomes the response, an error
/// object becomes [`CallError::Rpc`]. Ids count up from 1 per client. The
/// context's deadline bounds the call, as for every HTTP client call.
///
/// ```no_run
/// use synkit_core::{Context, Endpoint};
/// use synkit_transports::jsonrpc::client::client;
///
/// let sum = client::<serde_json::Value, serde_json::Value>("http://127.0.0.1:8084/".parse()?, "sum");
/// let v = sum.call(&Context::background(), serde_json::json!({"a": 1, "b": 2}))?;
/// assert_eq!(v["v"], 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn client<Req, Resp>(
    url: Uri,
    method: &'static str,
) -> impl Endpoint<Req, Response = Resp, Error = CallError> + Send + Sync
where
    Req: Serialize,
    Resp: DeserializeOwned,
{
    let ids = AtomicU64::new(1);
    let encode = move |_: &Context<'_>,
                       request: &mut Request<Vec<u8>>,
                       params: Req|
          -> Result<(), CallError> {
        let call = Outgoing {
            jsonrpc: "2.0",
            method,
            params,
            id: ids.fetch_add(1, Ordering::Relaxed),
        };
        *request.body_mut() =
            serde_json::to_vec(&call).map_err(|e| ClientError::Codec(e.to_string()))?;
        request.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        Ok(())
    };
    let decode = |_: &Context<'_>, resp: Response<Vec<u8>>| -> Result<Resp, CallError> {
        if !resp.status().is_success() {
            let text = String::from_utf8_lossy(resp.body()).into_owned();
            return Err(ClientError::Status(resp.status(), text).into());
        }
        let answer: Incoming<'_> = serde_json::from_slice(resp.body())
            .map_err(|e| ClientError::Codec(format!("not a JSON-RPC response: {e}")))?;
        if let Some(e) = answer.error {
            return Err(CallError::Rpc(e));
        }
        let result = answer.result.map_or("null", RawValue::get);
        serde_json::from_str(result)
            .map_err(|e| ClientError::Codec(format!("unexpected result: {e}")).into())
    };
    Client::new(Method::POST, url, encode, decode)
}
