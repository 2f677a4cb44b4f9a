//! The responses the server gives on its own: one builder, one shape.
//!
//! The server's own errors (a request it cannot read, a full queue, a
//! deadline gone, a panic, no route) are JSON, as the services it carries
//! speak JSON: `{"error":"<what happened>"}`, `application/json`.

use ::http::{HeaderValue, Response, StatusCode, header};

use crate::engine::Failure;

/// A response with `status` and the body `{"error": message}`.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response<Vec<u8>> {
    let mut body = Vec::with_capacity(message.len() + 16);
    body.extend_from_slice(b"{\"error\":");
    // A string always serialises.
    let _ = serde_json::to_writer(&mut body, message);
    body.extend_from_slice(b"}\n");
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// The answer the engine gives for `failure`.
pub(crate) fn failure_response(failure: Failure) -> Response<Vec<u8>> {
    match failure {
        Failure::Overloaded => {
            let mut resp = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded: too many requests queued; retry later",
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            resp
        }
        Failure::ExpiredInQueue => error_response(
            StatusCode::GATEWAY_TIMEOUT,
            "deadline exceeded while waiting for a worker",
        ),
        Failure::Panicked => {
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_json_with_the_message_escaped() {
        let resp = error_response(StatusCode::BAD_REQUEST, "bad \"quote\"\n");
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.body(), b"{\"error\":\"bad \\\"quote\\\"\\n\"}\n");
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
    }

    #[test]
    fn overload_says_when_to_retry() {
        let resp = failure_response(Failure::Overloaded);
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
    }
}
