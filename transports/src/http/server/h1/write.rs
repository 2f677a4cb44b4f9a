//! Responses onto the wire.

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use ::http::{HeaderMap, Response, StatusCode};

/// The `Date` header's value, formatted only when the second changes.
pub(crate) struct DateCache {
    second: u64,
    value: [u8; 29],
}

impl DateCache {
    pub(crate) fn new() -> DateCache {
        DateCache {
            second: u64::MAX,
            value: [b' '; 29],
        }
    }

    /// The date for `unix_secs` seconds past the Unix epoch.
    pub(crate) fn get(&mut self, unix_secs: u64) -> &[u8] {
        if unix_secs != self.second {
            self.second = unix_secs;
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(unix_secs);
            // Formatted in place: an IMF-fixdate is always 29 bytes.
            let mut into = &mut self.value[..];
            let _ = write!(into, "{}", httpdate::HttpDate::from(at));
        }
        &self.value
    }
}

/// What the response must look like on the wire, beyond the response
/// itself: decided by the request it answers and the connection's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReplyShape {
    /// Whether the body is left out (a `HEAD` request); its length is still
    /// announced.
    pub(crate) head_only: bool,
    /// What becomes of the connection after this response.
    pub(crate) then: AfterReply,
}

/// What becomes of the connection after a response, and so which
/// `Connection` header the response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterReply {
    /// HTTP/1.1's default: no header.
    KeepAlive,
    /// An HTTP/1.0 client asked to keep the connection: `Connection:
    /// keep-alive`.
    KeepAlive10,
    /// The connection closes: `Connection: close`.
    Close,
}

impl ReplyShape {
    /// The shape of an answer the server gives on its own and then closes.
    pub(crate) const CLOSE: ReplyShape = ReplyShape {
        head_only: false,
        then: AfterReply::Close,
    };

    /// This shape, but closing the connection.
    #[must_use]
    pub(crate) fn closing(self) -> ReplyShape {
        ReplyShape {
            then: AfterReply::Close,
            ..self
        }
    }
}

/// Appends `resp` to `out` as an HTTP/1.1 response shaped by `shape`.
pub(crate) fn write_response(
    out: &mut Vec<u8>,
    resp: &Response<Vec<u8>>,
    shape: ReplyShape,
    date: &[u8],
) {
    let status = resp.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    write_headers(out, resp.headers());
    if !resp.headers().contains_key(::http::header::DATE) {
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
    }
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if !bodiless {
        out.extend_from_slice(b"content-length: ");
        let mut digits = itoa_buf(resp.body().len());
        out.extend_from_slice(digits.as_bytes_mut());
        out.extend_from_slice(b"\r\n");
    }
    match shape.then {
        AfterReply::Close => out.extend_from_slice(b"connection: close\r\n"),
        AfterReply::KeepAlive10 => out.extend_from_slice(b"connection: keep-alive\r\n"),
        AfterReply::KeepAlive => {}
    }
    out.extend_from_slice(b"\r\n");
    if !shape.head_only && !bodiless {
        out.extend_from_slice(resp.body());
    }
}

fn write_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        // The server owns framing and connection management.
        if name == ::http::header::CONTENT_LENGTH
            || name == ::http::header::TRANSFER_ENCODING
            || name == ::http::header::CONNECTION
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Decimal digits of `n` without allocating.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_buf(mut n: usize) -> Digits {
    let mut d = Digits {
        buf: [0; 20],
        start: 20,
    };
    loop {
        d.start -= 1;
        // n % 10 is a single digit.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        d.buf[d.start] = b'0' + digit;
        n /= 10;
        if n == 0 {
            return d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(resp: &Response<Vec<u8>>, head_only: bool, close: bool) -> String {
        let mut out = Vec::new();
        let mut date = DateCache::new();
        let then = if close {
            AfterReply::Close
        } else {
            AfterReply::KeepAlive
        };
        write_response(
            &mut out,
            resp,
            ReplyShape { head_only, then },
            date.get(784_111_777),
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn frames_the_body_and_drops_user_framing_headers() {
        let mut resp = Response::new(b"{\"v\":3}".to_vec());
        resp.headers_mut()
            .insert("content-length", "999".parse().unwrap());
        resp.headers_mut().insert("x-app", "1".parse().unwrap());
        let text = render(&resp, false, false);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("\r\ncontent-length: 7\r\n"));
        assert!(!text.contains("999"));
        assert!(text.contains("x-app: 1\r\n"));
        assert!(
            text.contains("date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\n{\"v\":3}"));
    }

    #[test]
    fn head_announces_the_length_but_sends_no_body() {
        let text = render(&Response::new(b"hello".to_vec()), true, true);
        assert!(text.contains("content-length: 5\r\n"));
        assert!(text.contains("connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn digits_of_any_size() {
        for n in [0usize, 7, 10, 12345, usize::MAX] {
            assert_eq!(itoa_buf(n).as_bytes_mut(), n.to_string().as_bytes());
        }
    }
}
