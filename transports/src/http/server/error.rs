use std::fmt;

use ::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use synkit_core::Context;

/// An error a [`Handler`](super::Handler) can answer with: Go kit's
/// `StatusCoder` and `Headerer`, and a body.
///
/// Implement it on your endpoint's error type; every method has a default,
/// so `impl ErrorResponse for MyError {}` answers 500 with the error's text.
/// synkit's own [`Error`](synkit_core::Error) kinds answer with their
/// statuses (429, 503, 504, 499) and a `Retry-After` where waiting helps.
pub trait ErrorResponse: fmt::Display {
    /// The status to answer with. Default: 500.
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// Headers to add to the error response. Default: none.
    fn headers(&self, _headers: &mut HeaderMap) {}

    /// A JSON body, if the error has one (Go kit's `json.Marshaler`);
    /// otherwise the body is the error's text. Default: none.
    fn json_body(&self) -> Option<Vec<u8>> {
        None
    }
}

impl ErrorResponse for synkit_core::Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn headers(&self, headers: &mut HeaderMap) {
        if matches!(
            self,
            synkit_core::Error::RateLimited
                | synkit_core::Error::Overloaded
                | synkit_core::Error::CircuitOpen
        ) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
    }
}

/// A request the decoder could not turn into the endpoint's request: 400
/// (or another 4xx) with a JSON body `{"error": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    status: StatusCode,
    message: String,
}

impl DecodeError {
    /// A 400 Bad Request saying `message`.
    pub fn bad_request(message: impl Into<String>) -> DecodeError {
        DecodeError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// An error with another status (415, 422, …).
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> DecodeError {
        DecodeError {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

impl ErrorResponse for DecodeError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn json_body(&self) -> Option<Vec<u8>> {
        let mut body = serde_json::to_vec(&serde_json::json!({ "error": self.message })).ok()?;
        body.push(b'\n');
        Some(body)
    }
}

/// A response the encoder could not produce: 500.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError(pub String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "encoding the response failed: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

impl ErrorResponse for EncodeError {}

/// Go kit's `DefaultErrorEncoder`: the error's status and headers, and its
/// JSON body (`application/json`) or its text (`text/plain`).
pub fn encode_error(_cx: &Context<'_>, err: &dyn ErrorResponse) -> Response<Vec<u8>> {
    let (body, content_type) = match err.json_body() {
        Some(json) => (json, "application/json; charset=utf-8"),
        None => (format!("{err}\n").into_bytes(), "text/plain; charset=utf-8"),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = err.status_code();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    err.headers(resp.headers_mut());
    resp
}
