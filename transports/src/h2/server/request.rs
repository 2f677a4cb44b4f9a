//! A request's header section checked as HPACK hands it over (RFC 9113
//! §8.2, §8.3): a request that breaks a rule is malformed, a stream error
//! of type `PROTOCOL_ERROR` (§8.1.1), never a guess at what was meant —
//! a duplicated `:path` read one way here and another way by a proxy in
//! front is how requests get smuggled.

use super::super::{COMMON_NAMES, COMMON_VALUES, Request, interned};

/// Fields only HTTP/1.1 connections have (§8.2.2).
const CONNECTION_SPECIFIC: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// The request pseudo-headers, each allowed once.
const PSEUDO: [&str; 4] = [":method", ":scheme", ":path", ":authority"];

/// A request's fields being read.
#[derive(Debug, Default)]
pub(super) struct RequestFields {
    request: Request,
    /// Which of [`PSEUDO`] were seen, one bit each.
    seen: u8,
    /// A regular field was seen: no pseudo-header may follow.
    regular: bool,
    content_length: Option<u64>,
    malformed: Option<&'static str>,
}

/// A well-formed request's head.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) request: Request,
    /// `content-length`, which the DATA must add up to.
    pub(super) content_length: Option<u64>,
}

impl RequestFields {
    /// Takes one decoded field.
    pub(super) fn field(&mut self, name: &[u8], value: &[u8]) {
        if self.malformed.is_some() {
            return;
        }
        if let Err(why) = self.check(name, value) {
            self.malformed = Some(why);
        }
    }

    fn check(&mut self, name: &[u8], value: &[u8]) -> Result<(), &'static str> {
        let (Ok(name), Ok(value)) = (std::str::from_utf8(name), std::str::from_utf8(value)) else {
            return Err("a field that is not UTF-8");
        };
        valid_value(value)?;
        if let Some(pseudo) = name.strip_prefix(':') {
            if self.regular {
                return Err("a pseudo-header after a regular field");
            }
            let bit = PSEUDO
                .iter()
                .position(|p| p[1..] == *pseudo)
                .ok_or("an unknown or response pseudo-header")?;
            if self.seen & (1 << bit) != 0 {
                return Err("a pseudo-header twice");
            }
            self.seen |= 1 << bit;
            match bit {
                0 => self.request.method = interned(value, COMMON_VALUES),
                2 => value.clone_into(&mut self.request.path),
                _ => {}
            }
            return Ok(());
        }
        self.regular = true;
        regular_field(name, value)?;
        if name == "content-length" {
            let n = content_length(value)?;
            if self.content_length.is_some_and(|m| m != n) {
                return Err("two content-lengths that disagree");
            }
            self.content_length = Some(n);
        }
        self.request
            .headers
            .push((interned(name, COMMON_NAMES), interned(value, COMMON_VALUES)));
        Ok(())
    }

    /// The request, or why it is malformed.
    pub(super) fn finish(self) -> Result<Head, &'static str> {
        if let Some(why) = self.malformed {
            return Err(why);
        }
        // :method, :scheme and :path are required (§8.3.1); CONNECT,
        // which omits the last two, is not served.
        if self.seen & 0b111 != 0b111 {
            return Err("a request without :method, :scheme or :path");
        }
        if self.request.path.is_empty() {
            return Err("an empty :path");
        }
        Ok(Head {
            request: self.request,
            content_length: self.content_length,
        })
    }
}

/// Checks one trailer field: no pseudo-headers (§8.1), and the rules of
/// every field.
pub(super) fn trailer_field(name: &[u8], value: &[u8]) -> Result<(), &'static str> {
    let (Ok(name), Ok(value)) = (std::str::from_utf8(name), std::str::from_utf8(value)) else {
        return Err("a field that is not UTF-8");
    };
    if name.starts_with(':') {
        return Err("a pseudo-header in trailers");
    }
    valid_value(value)?;
    regular_field(name, value)
}

/// A regular field's name, and the fields HTTP/2 forbids.
fn regular_field(name: &str, value: &str) -> Result<(), &'static str> {
    if name.is_empty() || !name.bytes().all(is_name_byte) {
        return Err("a field name with upper case or a byte no token has");
    }
    if CONNECTION_SPECIFIC.contains(&name) {
        return Err("a connection-specific field");
    }
    if name == "te" && !value.eq_ignore_ascii_case("trailers") {
        return Err("te other than trailers");
    }
    Ok(())
}

/// A token's bytes (RFC 9110 §5.6.2), lower case only (RFC 9113 §8.2.1).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A field value: no NUL, CR or LF, and no white space at either end
/// (§8.2.1).
fn valid_value(value: &str) -> Result<(), &'static str> {
    if value.bytes().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err("a field value with NUL, CR or LF");
    }
    if value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']) {
        return Err("a field value with white space at an end");
    }
    Ok(())
}

fn content_length(value: &str) -> Result<u64, &'static str> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a content-length that is not a number");
    }
    value.parse().map_err(|_| "a content-length too large")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(fields: &[(&str, &str)]) -> Result<Head, &'static str> {
        let mut r = RequestFields::default();
        for (n, v) in fields {
            r.field(n.as_bytes(), v.as_bytes());
        }
        r.finish()
    }

    const GOOD: [(&str, &str); 4] = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/a/b"),
        (":authority", "x"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut all = GOOD.to_vec();
        all.extend_from_slice(extra);
        all
    }

    #[test]
    fn a_well_formed_request_is_read() {
        let head = read(&with(&[("content-length", "5"), ("te", "trailers")])).unwrap();
        assert_eq!(head.request.method, "POST");
        assert_eq!(head.request.path, "/a/b");
        assert_eq!(head.content_length, Some(5));
        assert_eq!(head.request.header("te"), Some("trailers"));
    }

    #[test]
    fn malformed_requests_are_refused() {
        let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
            (
                "duplicated :path",
                with(&[]).into_iter().chain([(":path", "/c")]).collect(),
            ),
            (
                "pseudo after regular",
                vec![
                    (":method", "POST"),
                    ("x", "1"),
                    (":scheme", "http"),
                    (":path", "/"),
                ],
            ),
            (
                "duplicated :method",
                [(":method", "GET")].into_iter().chain(GOOD).collect(),
            ),
            (
                "duplicated :scheme",
                [(":scheme", "https")].into_iter().chain(GOOD).collect(),
            ),
            ("response pseudo", with(&[(":status", "200")])),
            ("unknown pseudo", with(&[(":protocol", "x")])),
            ("connection", with(&[("connection", "keep-alive")])),
            (
                "transfer-encoding",
                with(&[("transfer-encoding", "chunked")]),
            ),
            ("te", with(&[("te", "gzip")])),
            ("upper case", with(&[("X-Up", "1")])),
            ("space in name", with(&[("a b", "1")])),
            ("newline in value", with(&[("a", "1\r\n2")])),
            ("space at the end", with(&[("a", "1 ")])),
            ("content-length", with(&[("content-length", "-1")])),
            (
                "content-lengths disagree",
                with(&[("content-length", "1"), ("content-length", "2")]),
            ),
            ("no :path", GOOD[..2].to_vec()),
            (
                "empty :path",
                vec![(":method", "GET"), (":scheme", "http"), (":path", "")],
            ),
        ];
        for (what, fields) in cases {
            assert!(read(&fields).is_err(), "{what}");
        }
    }

    #[test]
    fn trailers_take_no_pseudo_headers() {
        assert!(trailer_field(b"grpc-status", b"0").is_ok());
        assert!(trailer_field(b":path", b"/").is_err());
        assert!(trailer_field(b"connection", b"close").is_err());
    }
}
