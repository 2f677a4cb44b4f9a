//! The responses the server gives on its own: one writer, one shape.
//!
//! The server's own errors (a request it cannot read, a full queue, a
//! deadline gone, a panic, no route) are JSON, as the services it carries
//! speak JSON: `{"error":"<what happened>"}`, `application/json`.

use ::http::{HeaderValue, Response, StatusCode, header};

use crate::engine::Failure;

/// `{"error": message}` and a newline, appended to `body`.
pub(crate) fn json_error_into(body: &mut Vec<u8>, message: &str) {
    body.extend_from_slice(b"{\"error\":");
    // A string always serialises.
    let _ = serde_json::to_writer(&mut *body, message);
    body.extend_from_slice(b"}\n");
}

/// Makes `resp` say `status` with the body `{"error": message}`, dropping
/// whatever it said before.
pub(crate) fn write_error(resp: &mut Response<Vec<u8>>, status: StatusCode, message: &str) {
    *resp.status_mut() = status;
    resp.headers_mut().clear();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp.body_mut().clear();
    json_error_into(resp.body_mut(), message);
}

/// Makes `resp` the engine's answer for `failure`.
pub(crate) fn write_failure(resp: &mut Response<Vec<u8>>, failure: Failure) {
    match failure {
        Failure::Overloaded => {
            write_error(
                resp,
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded: too many requests queued; retry later",
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        Failure::ExpiredInQueue => write_error(
            resp,
            StatusCode::GATEWAY_TIMEOUT,
            "deadline exceeded while waiting for a worker",
        ),
        Failure::Panicked => write_error(
            resp,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal server error",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_json_with_the_message_escaped() {
        let mut resp = Response::new(b"stale".to_vec());
        resp.headers_mut()
            .insert("x-stale", HeaderValue::from_static("1"));
        write_error(&mut resp, StatusCode::BAD_REQUEST, "bad \"quote\"\n");
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.body(), b"{\"error\":\"bad \\\"quote\\\"\\n\"}\n");
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        assert!(resp.headers().get("x-stale").is_none());
    }

    #[test]
    fn overload_says_when_to_retry() {
        let mut resp = Response::new(Vec::new());
        write_failure(&mut resp, Failure::Overloaded);
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
    }
}
