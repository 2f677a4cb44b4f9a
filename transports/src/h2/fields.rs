//! Header fields checked as HPACK hands them over (RFC 9113 §8.2, §8.3):
//! a head or trailers that break a rule are malformed, a stream error of
//! type `PROTOCOL_ERROR` (§8.1.1), never a guess at what was meant — a
//! duplicated `:path` read one way here and another way by a proxy in
//! front is how requests get smuggled.

use super::conn::{Fields, Part};
use super::{Field, Request};

/// Names and values a connection's peers commonly send, kept as
/// constants rather than copies: the protocol above HTTP/2 says which.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Common {
    pub(crate) names: &'static [&'static str],
    pub(crate) values: &'static [&'static str],
}

impl Common {
    fn name(self, s: &str) -> Field {
        interned(s, self.names)
    }

    fn value(self, s: &str) -> Field {
        interned(s, self.values)
    }
}

/// `s` as a constant from `common` when it is one, else a copy.
pub(crate) fn interned(s: &str, common: &[&'static str]) -> Field {
    common
        .iter()
        .find(|c| **c == s)
        .map_or_else(|| Field::Owned(s.to_owned()), |c| Field::Borrowed(c))
}

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

/// A request's head or trailers being read (a server's).
#[derive(Debug)]
pub(crate) struct RequestFields {
    part: Part,
    common: Common,
    /// Whether `:authority` is kept.
    authority: bool,
    request: Request,
    /// Which of [`PSEUDO`] were seen, one bit each.
    seen: u8,
    /// A regular field was seen: no pseudo-header may follow.
    regular: bool,
    content_length: Option<u64>,
    malformed: Option<&'static str>,
}

impl RequestFields {
    pub(crate) fn new(part: Part, common: Common, authority: bool) -> RequestFields {
        RequestFields {
            part,
            common,
            authority,
            request: Request::default(),
            seen: 0,
            regular: false,
            content_length: None,
            malformed: None,
        }
    }

    fn check(&mut self, name: &[u8], value: &[u8]) -> Result<(), &'static str> {
        let (name, value) = text(name, value)?;
        if let Some(pseudo) = name.strip_prefix(':') {
            if self.part == Part::Trailers {
                return Err("a pseudo-header in trailers");
            }
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
                0 => self.request.method = self.common.value(value),
                1 => self.request.scheme = interned(value, &["http", "https"]),
                2 => value.clone_into(&mut self.request.path),
                _ if self.authority => self.request.authority = Some(self.common.value(value)),
                _ => {}
            }
            return Ok(());
        }
        self.regular = true;
        regular_field(name, value, &mut self.content_length)?;
        self.request
            .headers
            .push((self.common.name(name), self.common.value(value)));
        Ok(())
    }
}

impl Fields for RequestFields {
    /// The request (its body still to come); for trailers, only their
    /// fields, in `headers`.
    type Done = Request;

    fn field(&mut self, name: &[u8], value: &[u8]) {
        if self.malformed.is_none()
            && let Err(why) = self.check(name, value)
        {
            self.malformed = Some(why);
        }
    }

    fn finish(self) -> Result<(Request, Option<u64>), &'static str> {
        if let Some(why) = self.malformed {
            return Err(why);
        }
        if self.part == Part::Head {
            // :method, :scheme and :path are required (§8.3.1); CONNECT,
            // which omits the last two, is not served.
            if self.seen & 0b111 != 0b111 {
                return Err("a request without :method, :scheme or :path");
            }
            if self.request.path.is_empty() {
                return Err("an empty :path");
            }
        }
        Ok((self.request, self.content_length))
    }
}

/// A response's head or trailers as a client reads them.
#[derive(Debug, Default)]
pub(crate) struct ResponseHead {
    /// `:status`; 0 in trailers.
    pub(crate) status: u16,
    /// The other fields, names in lower case, in order.
    pub(crate) fields: Vec<(Field, Field)>,
}

/// A response's head or trailers being read (a client's).
#[derive(Debug)]
pub(crate) struct ResponseFields {
    part: Part,
    common: Common,
    head: ResponseHead,
    regular: bool,
    content_length: Option<u64>,
    malformed: Option<&'static str>,
}

impl ResponseFields {
    pub(crate) fn new(part: Part, common: Common) -> ResponseFields {
        ResponseFields {
            part,
            common,
            head: ResponseHead::default(),
            regular: false,
            content_length: None,
            malformed: None,
        }
    }

    fn check(&mut self, name: &[u8], value: &[u8]) -> Result<(), &'static str> {
        let (name, value) = text(name, value)?;
        if name.starts_with(':') {
            if self.part == Part::Trailers {
                return Err("a pseudo-header in trailers");
            }
            if self.regular {
                return Err("a pseudo-header after a regular field");
            }
            if name != ":status" {
                return Err("a pseudo-header a response does not have");
            }
            if self.head.status != 0 {
                return Err("a pseudo-header twice");
            }
            self.head.status = status(value)?;
            return Ok(());
        }
        self.regular = true;
        regular_field(name, value, &mut self.content_length)?;
        self.head
            .fields
            .push((self.common.name(name), self.common.value(value)));
        Ok(())
    }
}

impl Fields for ResponseFields {
    type Done = ResponseHead;

    fn field(&mut self, name: &[u8], value: &[u8]) {
        if self.malformed.is_none()
            && let Err(why) = self.check(name, value)
        {
            self.malformed = Some(why);
        }
    }

    fn finish(self) -> Result<(ResponseHead, Option<u64>), &'static str> {
        if let Some(why) = self.malformed {
            return Err(why);
        }
        if self.part == Part::Head && self.head.status == 0 {
            return Err("a response without :status");
        }
        Ok((self.head, self.content_length))
    }
}

/// A field's name and value as text.
fn text<'a>(name: &'a [u8], value: &'a [u8]) -> Result<(&'a str, &'a str), &'static str> {
    let (Ok(name), Ok(value)) = (std::str::from_utf8(name), std::str::from_utf8(value)) else {
        return Err("a field that is not UTF-8");
    };
    valid_value(value)?;
    Ok((name, value))
}

/// A `:status`: three digits, 100 to 599.
fn status(value: &str) -> Result<u16, &'static str> {
    if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a :status that is not three digits");
    }
    value
        .parse()
        .ok()
        .filter(|s| (100..600).contains(s))
        .ok_or("a :status out of range")
}

/// A regular field's name, the fields HTTP/2 forbids, and
/// `content-length`, kept in `length`.
fn regular_field(name: &str, value: &str, length: &mut Option<u64>) -> Result<(), &'static str> {
    if name.is_empty() || !name.bytes().all(is_name_byte) {
        return Err("a field name with upper case or a byte no token has");
    }
    if CONNECTION_SPECIFIC.contains(&name) {
        return Err("a connection-specific field");
    }
    if name == "te" && !value.eq_ignore_ascii_case("trailers") {
        return Err("te other than trailers");
    }
    if name == "content-length" {
        let n = content_length(value)?;
        if length.is_some_and(|m| m != n) {
            return Err("two content-lengths that disagree");
        }
        *length = Some(n);
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

    fn read(fields: &[(&str, &str)]) -> Result<(Request, Option<u64>), &'static str> {
        let mut r = RequestFields::new(Part::Head, Common::default(), true);
        for (n, v) in fields {
            r.field(n.as_bytes(), v.as_bytes());
        }
        r.finish()
    }

    fn read_response(part: Part, fields: &[(&str, &str)]) -> Result<ResponseHead, &'static str> {
        let mut r = ResponseFields::new(part, Common::default());
        for (n, v) in fields {
            r.field(n.as_bytes(), v.as_bytes());
        }
        r.finish().map(|(head, _)| head)
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
        let (request, length) =
            read(&with(&[("content-length", "5"), ("te", "trailers")])).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/a/b");
        assert_eq!(length, Some(5));
        assert_eq!(request.header("te"), Some("trailers"));
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
        let trailers = |fields: &[(&str, &str)]| {
            let mut r = RequestFields::new(Part::Trailers, Common::default(), true);
            for (n, v) in fields {
                r.field(n.as_bytes(), v.as_bytes());
            }
            r.finish().map(|(t, _)| t.headers.len())
        };
        assert_eq!(trailers(&[("x-checksum", "0")]), Ok(1));
        assert!(trailers(&[(":path", "/")]).is_err());
        assert!(trailers(&[("connection", "close")]).is_err());
        assert!(read_response(Part::Trailers, &[(":status", "200")]).is_err());
    }

    #[test]
    fn responses_have_one_status_and_no_request_pseudo_headers() {
        let head =
            read_response(Part::Head, &[(":status", "200"), ("content-type", "a/b")]).unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.fields.len(), 1);
        for bad in [
            vec![("content-type", "a/b")],
            vec![(":status", "200"), (":status", "204")],
            vec![(":status", "2000")],
            vec![(":status", "099")],
            vec![(":status", "200"), (":path", "/")],
            vec![("x", "1"), (":status", "200")],
            vec![(":status", "200"), ("transfer-encoding", "chunked")],
        ] {
            assert!(read_response(Part::Head, &bad).is_err(), "{bad:?}");
        }
    }
}
