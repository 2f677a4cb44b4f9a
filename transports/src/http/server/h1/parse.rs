//! Request heads off the wire: httparse for the syntax, our own checks for
//! the framing rules of RFC 9112 §6 that keep requests from being smuggled.

use ::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};
use bytes::Bytes;

use super::super::ServerConfig;

/// The most header fields any configuration may allow: the parser's slots
/// live on the stack.
pub(crate) const MAX_HEADERS: usize = 256;

/// Why a request could not be read; each maps to a status and closes the
/// connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Malformed head, bad framing, smuggling attempt: 400.
    BadRequest(&'static str),
    /// A request line longer than the head may be: 414.
    UriTooLong,
    /// Head larger than allowed, or too many headers: 431.
    HeadTooLarge,
    /// Body larger than allowed: 413.
    BodyTooLarge,
    /// An `Expect` other than `100-continue`: 417.
    ExpectationFailed,
    /// A transfer coding other than `chunked`: 501.
    UnsupportedTransferCoding,
    /// A major version other than 1: 505.
    VersionNotSupported,
}

impl ParseError {
    pub(crate) fn status(self) -> u16 {
        match self {
            ParseError::BadRequest(_) => 400,
            ParseError::UriTooLong => 414,
            ParseError::HeadTooLarge => 431,
            ParseError::BodyTooLarge => 413,
            ParseError::ExpectationFailed => 417,
            ParseError::UnsupportedTransferCoding => 501,
            ParseError::VersionNotSupported => 505,
        }
    }

    pub(crate) fn reason(self) -> &'static str {
        match self {
            ParseError::BadRequest(why) => why,
            ParseError::UriTooLong => "request line too long",
            ParseError::HeadTooLarge => "request header fields too large",
            ParseError::BodyTooLarge => "request body too large",
            ParseError::ExpectationFailed => "only the 100-continue expectation is supported",
            ParseError::UnsupportedTransferCoding => {
                "only the chunked transfer coding is supported"
            }
            ParseError::VersionNotSupported => "only HTTP/1.x is supported",
        }
    }
}

/// How the body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Length(usize),
    Chunked,
}

/// What the connection needs from a parsed request head (the method,
/// target, version and fields went into the request).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
    /// Bytes of the buffer the head took.
    pub(crate) len: usize,
}

/// Where the blank line that ends a head is, counting from `from`: the
/// offset just past it. httparse accepts bare LF line endings, so `\n\n`
/// ends a head as well as `\r\n\r\n`.
pub(crate) fn find_head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(at) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
    {
        let nl = i + at;
        match bytes.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if bytes.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// Whether a head that has grown past the limit is too large because of its
/// request line (414) rather than its header fields (431).
pub(crate) fn too_large(buf: &[u8], max_head_bytes: usize) -> ParseError {
    let line = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if line >= max_head_bytes {
        ParseError::UriTooLong
    } else {
        ParseError::HeadTooLarge
    }
}

/// A parsed head with its request, for tests and the fuzz target.
#[cfg(any(test, fuzzing))]
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) request: Request<Vec<u8>>,
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
    pub(crate) len: usize,
}

/// [`parse_head_into`] a new request.
#[cfg(any(test, fuzzing))]
pub(crate) fn parse_head(buf: &[u8], config: &ServerConfig) -> Result<Option<Parsed>, ParseError> {
    let mut request = Request::new(Vec::new());
    Ok(
        parse_head_into(buf, config, &mut request)?.map(|head| Parsed {
            request,
            framing: head.framing,
            keep_alive: head.keep_alive,
            len: head.len,
        }),
    )
}

/// Parses a request head from the start of `buf` into `req` (its method,
/// target, version and header fields; the fields it held are dropped):
/// `Ok(None)` if more bytes are needed.
///
/// The head is copied once into a shared buffer that the target and every
/// field value point into, so a request costs two allocations however many
/// fields it has, and `req`'s header map keeps its capacity from one
/// request to the next.
pub(crate) fn parse_head_into(
    buf: &[u8],
    config: &ServerConfig,
    req: &mut Request<Vec<u8>>,
) -> Result<Option<Head>, ParseError> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed =
        httparse::Request::new(&mut storage[..config.max_headers.clamp(1, MAX_HEADERS)]);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            if n > config.max_head_bytes {
                return Err(too_large(buf, config.max_head_bytes));
            }
            n
        }
        Ok(httparse::Status::Partial) => {
            if buf.len() > config.max_head_bytes {
                return Err(too_large(buf, config.max_head_bytes));
            }
            return Ok(None);
        }
        Err(httparse::Error::Version) => {
            return parse_later_minor_version(buf, config, req);
        }
        Err(e) => return Err(refusal(e)),
    };
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ParseError::VersionNotSupported),
    };
    let method = parsed
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(ParseError::BadRequest("invalid method"))?;
    let shared = Bytes::copy_from_slice(&buf[..len]);
    let within = |part: &[u8]| {
        let start = part.as_ptr() as usize - buf.as_ptr() as usize;
        shared.slice(start..start + part.len())
    };
    let uri = parsed
        .path
        .and_then(|p| Uri::from_maybe_shared(within(p.as_bytes())).ok())
        .ok_or(ParseError::BadRequest("invalid request target"))?;

    let headers = req.headers_mut();
    headers.clear();
    let fields = scan_headers(parsed.headers, version, headers, within)?;
    let (framing, keep_alive) = framing(&fields, version, config)?;
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = version;
    Ok(Some(Head {
        framing,
        keep_alive,
        expect_continue: fields.expect_continue,
        len,
    }))
}

/// The status for what httparse refused (a version it does not know
/// aside: that one is read again, as a later HTTP/1.x).
fn refusal(e: httparse::Error) -> ParseError {
    match e {
        httparse::Error::TooManyHeaders => ParseError::HeadTooLarge,
        httparse::Error::HeaderName => ParseError::BadRequest("invalid header name"),
        httparse::Error::HeaderValue => ParseError::BadRequest("invalid header value"),
        httparse::Error::Version => ParseError::BadRequest("malformed HTTP version"),
        httparse::Error::Token | httparse::Error::Status | httparse::Error::NewLine => {
            ParseError::BadRequest("malformed request line")
        }
    }
}

/// How the body is framed, and whether the connection is kept after the
/// answer (HTTP/1.0 only when asked for), from the head's fields.
fn framing(
    fields: &Fields,
    version: Version,
    config: &ServerConfig,
) -> Result<(Framing, bool), ParseError> {
    let framing = if fields.chunked {
        Framing::Chunked
    } else {
        let n = fields.content_length.unwrap_or(0);
        if n > config.max_body_bytes {
            return Err(ParseError::BodyTooLarge);
        }
        Framing::Length(n)
    };
    let keep_alive = match version {
        Version::HTTP_10 => fields.connection_keep_alive && !fields.connection_close,
        _ => !fields.connection_close,
    };
    Ok((framing, keep_alive))
}

/// httparse knows only HTTP/1.0 and 1.1. RFC 9112 §2.3 (and Go) serve a
/// later 1.x as the highest minor version implemented, so `HTTP/1.2` is read
/// as `HTTP/1.1`; any other version gets 505 (or 400 if it is not one).
/// Rare, so the copy this takes does not matter.
fn parse_later_minor_version(
    buf: &[u8],
    config: &ServerConfig,
    req: &mut Request<Vec<u8>>,
) -> Result<Option<Head>, ParseError> {
    let Some(line_end) = buf.iter().position(|&b| b == b'\n') else {
        // The version is still arriving: wait while it can become `HTTP/d.d`.
        let tail = buf.rsplit(|&b| b == b' ').next().unwrap_or(buf);
        let pattern = b"HTTP/0.0";
        let fits = tail.len() <= pattern.len()
            && tail.iter().zip(pattern).all(|(&b, &p)| {
                if p == b'0' {
                    b.is_ascii_digit()
                } else {
                    b == p
                }
            });
        return if !fits {
            Err(ParseError::BadRequest("malformed HTTP version"))
        } else if buf.len() > config.max_head_bytes {
            Err(too_large(buf, config.max_head_bytes))
        } else {
            Ok(None)
        };
    };
    let line = buf[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&buf[..line_end]);
    // method SP request-target SP version: the version follows the second
    // space, and nothing else may.
    let mut spaces = line.iter().enumerate().filter(|&(_, &b)| b == b' ');
    let (Some(_), Some((space, _)), None) = (spaces.next(), spaces.next(), spaces.next()) else {
        return Err(ParseError::BadRequest("malformed request line"));
    };
    let version = &line[space + 1..];
    let Some(number) = version.strip_prefix(b"HTTP/") else {
        return Err(ParseError::BadRequest("malformed request line"));
    };
    match number {
        // httparse refused the line for something other than the version.
        [b'1', b'.', b'0' | b'1'] => {
            return Err(ParseError::BadRequest("malformed request line"));
        }
        [major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            if *major != b'1' {
                return Err(ParseError::VersionNotSupported);
            }
        }
        _ => return Err(ParseError::BadRequest("malformed HTTP version")),
    }
    let mut rewritten = buf.to_vec();
    rewritten[space + 1..space + 1 + 8].copy_from_slice(b"HTTP/1.1");
    parse_head_into(&rewritten, config, req)
}

/// What the framing and connection rules need from the header fields.
#[allow(clippy::struct_excessive_bools)]
struct Fields {
    content_length: Option<usize>,
    chunked: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
}

/// Puts the fields into `map` (values pointing into the shared head, which
/// `within` slices), enforcing RFC 9112's framing rules.
fn scan_headers(
    headers: &[httparse::Header<'_>],
    version: Version,
    map: &mut HeaderMap,
    within: impl Fn(&[u8]) -> Bytes,
) -> Result<Fields, ParseError> {
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut saw_transfer_encoding = false;
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    let mut expect_continue = false;
    let mut hosts = 0usize;
    for h in headers {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| ParseError::BadRequest("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(within(h.value))
            .map_err(|_| ParseError::BadRequest("invalid header value"))?;
        if name == ::http::header::CONTENT_LENGTH {
            let n = parse_content_length(h.value)?;
            if content_length.is_some_and(|prev| prev != n) {
                return Err(ParseError::BadRequest("conflicting Content-Length headers"));
            }
            content_length = Some(n);
        } else if name == ::http::header::TRANSFER_ENCODING {
            // Only a lone, final `chunked` is understood; anything else could
            // be read differently by a proxy in front of us.
            if saw_transfer_encoding {
                return Err(ParseError::BadRequest("repeated Transfer-Encoding header"));
            }
            saw_transfer_encoding = true;
            if h.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                chunked = true;
            } else {
                return Err(ParseError::UnsupportedTransferCoding);
            }
        } else if name == ::http::header::CONNECTION {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                connection_close |= token.eq_ignore_ascii_case(b"close");
                connection_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name == ::http::header::EXPECT {
            // RFC 9110 §10.1.1: an expectation the server cannot meet is 417.
            if h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                return Err(ParseError::ExpectationFailed);
            }
        } else if name == ::http::header::HOST {
            hosts += 1;
        }
        map.append(name, value);
    }
    if saw_transfer_encoding && content_length.is_some() {
        return Err(ParseError::BadRequest(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    if saw_transfer_encoding && version == Version::HTTP_10 {
        return Err(ParseError::BadRequest(
            "Transfer-Encoding in an HTTP/1.0 request",
        ));
    }
    // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one in 1.0.
    if hosts > 1 {
        return Err(ParseError::BadRequest("more than one Host header"));
    }
    if version == Version::HTTP_11 && hosts == 0 {
        return Err(ParseError::BadRequest("missing Host header"));
    }
    // A 100-continue sent to an HTTP/1.0 client would confuse it.
    expect_continue &= version == Version::HTTP_11;
    Ok(Fields {
        content_length,
        chunked,
        connection_close,
        connection_keep_alive,
        expect_continue,
    })
}

fn parse_content_length(v: &[u8]) -> Result<usize, ParseError> {
    let bad = ParseError::BadRequest("invalid Content-Length");
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ServerConfig {
        ServerConfig::default()
    }

    fn head(raw: &str) -> Result<Option<Parsed>, ParseError> {
        parse_head(raw.as_bytes(), &cfg())
    }

    #[test]
    fn parses_a_simple_request() {
        let h = head("POST /uppercase HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.request.method(), Method::POST);
        assert_eq!(h.request.uri().path(), "/uppercase");
        assert_eq!(h.framing, Framing::Length(11));
        assert!(h.keep_alive);
    }

    #[test]
    fn needs_more_bytes_for_a_partial_head() {
        assert!(head("GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
    }

    #[test]
    fn refuses_smuggling_and_bad_framing() {
        let cases = [
            (
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                400,
            ),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n",
                400,
            ),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\n",
                400,
            ),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                501,
            ),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
                400,
            ),
            ("GET / HTTP/1.1\r\nHo st: x\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", 417),
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            ("GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505),
            ("GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400),
            ("GET / FTP/1.1\r\nHost: x\r\n\r\n", 400),
        ];
        for (raw, status) in cases {
            let err = head(raw).expect_err(raw);
            assert_eq!(err.status(), status, "{raw:?}: {err:?}");
        }
    }

    #[test]
    fn a_later_minor_version_is_served_as_http_1_1() {
        let h = head("GET /count HTTP/1.2\r\nHost: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.request.version(), Version::HTTP_11);
        assert_eq!(h.request.uri().path(), "/count");
        assert_eq!(h.len, "GET /count HTTP/1.2\r\nHost: x\r\n\r\n".len());
        assert!(head("GET / HTTP/1.9\r\nHost: x\r\n").unwrap().is_none());
        assert!(head("GET / HTTP/1.9").unwrap().is_none());
        assert_eq!(head("GET / HTTP/1.9x").unwrap_err().status(), 400);
    }

    #[test]
    fn a_bad_version_token_before_a_good_one_is_refused_not_retried() {
        // Found by the fuzzer: the line's last word looked like a version,
        // and rewriting it changed nothing, so the parse recursed forever.
        let raw =
            b"POST /uppercase H\xff\xff\xff\xff1.1s\":\"abc}GET \0\0/ HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(parse_head(raw, &cfg()).unwrap_err().status(), 400);
        let raw = b"POST ocount HTTcount HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(parse_head(raw, &cfg()).unwrap_err().status(), 400);
        let raw = b"GET / HTTP/1.1 HTTP/1.2\r\nHost: x\r\n\r\n";
        assert_eq!(parse_head(raw, &cfg()).unwrap_err().status(), 400);
    }

    #[test]
    fn identical_duplicate_content_lengths_are_one() {
        let h =
            head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(h.framing, Framing::Length(2));
    }

    #[test]
    fn limits_head_size_header_count_and_body_size() {
        let long = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
            "a".repeat(20_000)
        );
        assert_eq!(head(&long).unwrap_err(), ParseError::HeadTooLarge);
        let partial_long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(20_000));
        assert_eq!(head(&partial_long).unwrap_err(), ParseError::HeadTooLarge);
        let many = "X-Many: v\r\n".repeat(200);
        assert_eq!(
            head(&format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n")).unwrap_err(),
            ParseError::HeadTooLarge
        );
        let big = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n";
        assert_eq!(head(big).unwrap_err(), ParseError::BodyTooLarge);
    }

    #[test]
    fn the_documented_header_count_is_the_one_enforced() {
        let max = cfg().max_headers;
        let fields = |n: usize| {
            let extra = "X-Many: v\r\n".repeat(n - 1);
            format!("GET / HTTP/1.1\r\nHost: x\r\n{extra}\r\n")
        };
        assert!(head(&fields(max)).unwrap().is_some());
        assert_eq!(
            head(&fields(max + 1)).unwrap_err(),
            ParseError::HeadTooLarge
        );
    }

    #[test]
    fn an_over_long_request_line_is_414_not_431() {
        let line = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(20_000));
        assert_eq!(head(&line).unwrap_err(), ParseError::UriTooLong);
        let partial = format!("GET /{}", "a".repeat(20_000));
        assert_eq!(head(&partial).unwrap_err(), ParseError::UriTooLong);
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        let ka = |raw: &str| head(raw).unwrap().unwrap().keep_alive;
        assert!(!ka(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ));
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        assert!(ka(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, Upgrade\r\n\r\n"
        ));
    }

    #[test]
    fn finds_the_end_of_a_head_with_either_line_ending() {
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY", 0),
            Some(27)
        );
        assert_eq!(find_head_end(b"GET / HTTP/1.1\nHost: x\n\n", 0), Some(24));
        assert_eq!(find_head_end(b"\n\r\n", 0), Some(3));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0), None);
        assert_eq!(find_head_end(b"\r\n\r", 0), None);
        assert_eq!(find_head_end(b"", 0), None);
        assert_eq!(find_head_end(b"a\r\n\r\n", 4), None);
        assert_eq!(find_head_end(b"a\r\n\r\n", 2), Some(5));
    }

    mod arbitrary_bytes {
        use proptest::prelude::*;

        use super::*;

        fn request_like() -> impl Strategy<Value = Vec<u8>> {
            // Fragments of real requests, shuffled and glued: far more
            // likely to reach deep parser states than uniform bytes.
            let pieces = prop_oneof![
                Just(b"GET / HTTP/1.1\r\n".to_vec()),
                Just(b"POST /count HTTP/1.0\r\n".to_vec()),
                Just(b"PUT /x HTTP/1.7\r\n".to_vec()),
                Just(b"Host: x\r\n".to_vec()),
                Just(b"Content-Length: 5\r\n".to_vec()),
                Just(b"Content-Length: 99999999999999999999\r\n".to_vec()),
                Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
                Just(b"Expect: 100-continue\r\n".to_vec()),
                Just(b"Connection: close\r\n".to_vec()),
                Just(b" folded\r\n".to_vec()),
                Just(b"\r\n".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..16),
            ];
            proptest::collection::vec(pieces, 0..12).prop_map(|p| p.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn the_head_parser_never_panics(bytes in request_like()) {
                if let Ok(Some(h)) = parse_head(&bytes, &ServerConfig::default()) {
                    prop_assert!(h.len <= bytes.len());
                }
            }
        }
    }
}
