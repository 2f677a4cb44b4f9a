//! Responses onto the wire.

use std::time::SystemTime;

use ::http::{HeaderMap, Response, StatusCode};

/// The `Date` header's value, formatted at most once a second.
pub(crate) struct DateCache {
    second: u64,
    value: [u8; 29],
}

impl DateCache {
    pub(crate) fn new() -> DateCache {
        let mut cache = DateCache {
            second: u64::MAX,
            value: [b' '; 29],
        };
        cache.refresh();
        cache
    }

    pub(crate) fn get(&mut self) -> &[u8] {
        self.refresh();
        &self.value
    }

    fn refresh(&mut self) {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            let text = httpdate::fmt_http_date(now);
            let n = text.len().min(29);
            self.value[..n].copy_from_slice(&text.as_bytes()[..n]);
        }
    }
}

/// Appends `resp` to `out` as an HTTP/1.1 response. The body is left out
/// for `HEAD` (its length still announced); `close` adds
/// `Connection: close`, `keep_alive_10` adds `Connection: keep-alive` for an
/// HTTP/1.0 client that asked for it.
pub(crate) fn write_response(
    out: &mut Vec<u8>,
    resp: &Response<Vec<u8>>,
    head_only: bool,
    close: bool,
    keep_alive_10: bool,
    date: &mut DateCache,
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
        out.extend_from_slice(date.get());
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
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if keep_alive_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only && !bodiless {
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

/// A plain-text response for the server's own errors.
pub(crate) fn error_response(status: u16, reason: &str) -> Response<Vec<u8>> {
    let mut resp = Response::new(format!("{reason}\n").into_bytes());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        ::http::header::CONTENT_TYPE,
        ::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(resp: &Response<Vec<u8>>, head_only: bool, close: bool) -> String {
        let mut out = Vec::new();
        let mut date = DateCache::new();
        write_response(&mut out, resp, head_only, close, false, &mut date);
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
        assert!(text.contains("date: "));
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
