use std::fmt;

use ::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use synkit_core::Context;

use crate::http::status::{retry_after, status_for};

/// An error a [`Handler`](super::Handler) can answer with: Go kit's
/// `StatusCoder` and `Headerer`, and a body.
///
/// Implement it on your endpoint's error type; every method has a default.
/// The defaults look for a synkit [`Error`](synkit_core::Error) kind in the
/// error's [`source`](std::error::Error::source) chain (`thiserror`'s
/// `#[from]` puts it there), so `impl ErrorResponse for MyError {}` answers
/// a refused call as synkit's own kinds are answered — 429, 503 or 504 with
/// a JSON body and a `Retry-After` where waiting helps, as
/// [`status`](crate::http::status) lays down — and anything else 500 with
/// the error's text.
///
/// ```
/// use synkit_core::Error;
/// use synkit_transports::http::server::ErrorResponse;
///
/// #[derive(Debug)]
/// enum ProfileError {
///     NotFound,
///     Synkit(Error),
/// }
///
/// impl std::fmt::Display for ProfileError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         match self {
///             ProfileError::NotFound => f.write_str("no such profile"),
///             ProfileError::Synkit(e) => e.fmt(f),
///         }
///     }
/// }
///
/// impl std::error::Error for ProfileError {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         match self {
///             ProfileError::Synkit(e) => Some(e),
///             ProfileError::NotFound => None,
///         }
///     }
/// }
///
/// impl ErrorResponse for ProfileError {}
///
/// assert_eq!(ProfileError::Synkit(Error::RateLimited).status_code(), 429);
/// assert_eq!(ProfileError::Synkit(Error::DeadlineExceeded).status_code(), 504);
/// assert_eq!(ProfileError::NotFound.status_code(), 500);
/// ```
pub trait ErrorResponse: std::error::Error {
    /// The synkit error kind this error stands for, if any. Default: the
    /// first one in the [`source`](std::error::Error::source) chain.
    fn synkit_error(&self) -> Option<synkit_core::Error> {
        let mut next = self.source();
        while let Some(e) = next {
            if let Some(kind) = e.downcast_ref::<synkit_core::Error>() {
                return Some(*kind);
            }
            next = e.source();
        }
        None
    }

    /// The status to answer with. Default: the synkit kind's status, else
    /// 500.
    fn status_code(&self) -> StatusCode {
        self.synkit_error()
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, status_for)
    }

    /// Headers to add to the error response. Default: `Retry-After: 1` for
    /// the synkit kinds where waiting helps.
    fn headers(&self, headers: &mut HeaderMap) {
        if self.synkit_error().is_some_and(retry_after) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
    }

    /// A JSON body, if the error has one (Go kit's `json.Marshaler`);
    /// otherwise the body is the error's text. Default: for a synkit kind,
    /// `{"error": "<its text>"}`; else none.
    fn json_body(&self) -> Option<Vec<u8>> {
        self.synkit_error().map(|_| json_error(&self.to_string()))
    }
}

/// `{"error": message}` and a newline, as Go kit services write errors.
fn json_error(message: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(message.len() + 16);
    super::reply::json_error_into(&mut body, message);
    body
}

impl ErrorResponse for synkit_core::Error {
    fn synkit_error(&self) -> Option<synkit_core::Error> {
        Some(*self)
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
        Some(json_error(&self.message))
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

/// Go kit's `DefaultErrorEncoder`: writes the error's status and headers,
/// and its JSON body (`application/json`) or its text (`text/plain`), into
/// `resp`, replacing whatever it held.
pub fn encode_error(_cx: &Context<'_>, err: &dyn ErrorResponse, resp: &mut Response<Vec<u8>>) {
    let body = resp.body_mut();
    body.clear();
    let content_type = if let Some(json) = err.json_body() {
        body.extend_from_slice(&json);
        "application/json; charset=utf-8"
    } else {
        use std::io::Write as _;
        // Writing into a Vec cannot fail.
        let _ = writeln!(body, "{err}");
        "text/plain; charset=utf-8"
    };
    *resp.status_mut() = err.status_code();
    let headers = resp.headers_mut();
    headers.clear();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    err.headers(headers);
}
