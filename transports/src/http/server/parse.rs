//! Request heads and bodies off the wire: httparse for the head, our own
//! checks for the framing rules of RFC 9112 §6 that keep requests from being
//! smuggled, and an incremental chunked-body decoder.

use ::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};

use super::ServerConfig;

/// The most header fields any configuration may allow: the parser's slots
/// live on the stack.
pub(crate) const MAX_HEADERS: usize = 256;

/// Why a request could not be read; each maps to a status and closes the
/// connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Malformed head, bad framing, smuggling attempt: 400.
    BadRequest(&'static str),
    /// Head larger than allowed, or too many headers: 431.
    HeadTooLarge,
    /// Body larger than allowed: 413.
    BodyTooLarge,
    /// A transfer coding other than `chunked`: 501.
    UnsupportedTransferCoding,
}

impl ParseError {
    pub(crate) fn status(self) -> u16 {
        match self {
            ParseError::BadRequest(_) => 400,
            ParseError::HeadTooLarge => 431,
            ParseError::BodyTooLarge => 413,
            ParseError::UnsupportedTransferCoding => 501,
        }
    }

    pub(crate) fn reason(self) -> &'static str {
        match self {
            ParseError::BadRequest(why) => why,
            ParseError::HeadTooLarge => "request header fields too large",
            ParseError::BodyTooLarge => "request body too large",
            ParseError::UnsupportedTransferCoding => {
                "only the chunked transfer coding is supported"
            }
        }
    }
}

/// How the body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Length(usize),
    Chunked,
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) request: Request<()>,
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
    /// Bytes of the buffer the head took.
    pub(crate) len: usize,
}

/// Parses a request head from the start of `buf`: `Ok(None)` if more bytes
/// are needed.
pub(crate) fn parse_head(buf: &[u8], config: &ServerConfig) -> Result<Option<Head>, ParseError> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut storage[..config.max_headers.clamp(1, MAX_HEADERS)]);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            if n > config.max_head_bytes {
                return Err(ParseError::HeadTooLarge);
            }
            n
        }
        Ok(httparse::Status::Partial) => {
            if buf.len() > config.max_head_bytes {
                return Err(ParseError::HeadTooLarge);
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeadTooLarge),
        Err(httparse::Error::Version) => {
            return Err(ParseError::BadRequest("unsupported HTTP version"));
        }
        Err(httparse::Error::HeaderName) => {
            return Err(ParseError::BadRequest("invalid header name"));
        }
        Err(httparse::Error::HeaderValue) => {
            return Err(ParseError::BadRequest("invalid header value"));
        }
        Err(httparse::Error::Token | httparse::Error::Status | httparse::Error::NewLine) => {
            return Err(ParseError::BadRequest("malformed request line"));
        }
    };
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ParseError::BadRequest("unsupported HTTP version")),
    };
    let method = req
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(ParseError::BadRequest("invalid method"))?;
    let uri: Uri = req
        .path
        .and_then(|p| p.parse().ok())
        .ok_or(ParseError::BadRequest("invalid request target"))?;

    let fields = scan_headers(req.headers, version)?;
    let Fields {
        map,
        content_length,
        chunked,
        connection_close,
        connection_keep_alive,
        expect_continue,
    } = fields;
    let framing = if chunked {
        Framing::Chunked
    } else {
        let n = content_length.unwrap_or(0);
        if n > config.max_body_bytes {
            return Err(ParseError::BodyTooLarge);
        }
        Framing::Length(n)
    };
    let keep_alive = match version {
        Version::HTTP_10 => connection_keep_alive && !connection_close,
        _ => !connection_close,
    };
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = map;
    Ok(Some(Head {
        request,
        framing,
        keep_alive,
        expect_continue,
        len,
    }))
}

/// What the framing and connection rules need from the header fields.
#[allow(clippy::struct_excessive_bools)]
struct Fields {
    map: HeaderMap,
    content_length: Option<usize>,
    chunked: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
}

/// Copies the fields into a `HeaderMap`, enforcing RFC 9112's framing rules.
fn scan_headers(headers: &[httparse::Header<'_>], version: Version) -> Result<Fields, ParseError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut saw_transfer_encoding = false;
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    let mut expect_continue = false;
    let mut has_host = false;
    for h in headers {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| ParseError::BadRequest("invalid header name"))?;
        let value = HeaderValue::from_bytes(h.value)
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
            let v = value
                .to_str()
                .map_err(|_| ParseError::BadRequest("invalid Transfer-Encoding"))?;
            if v.trim().eq_ignore_ascii_case("chunked") {
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
            if h.value.eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                return Err(ParseError::BadRequest("unsupported expectation"));
            }
        } else if name == ::http::header::HOST {
            has_host = true;
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
    if version == Version::HTTP_11 && !has_host {
        return Err(ParseError::BadRequest("missing Host header"));
    }
    Ok(Fields {
        map,
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

/// Decodes a chunked body incrementally, as bytes arrive.
#[derive(Debug, Default)]
pub(crate) struct ChunkedDecoder {
    body: Vec<u8>,
    /// Offset in the caller's buffer (relative to the body's start) up to
    /// which input has been consumed.
    pos: usize,
    phase: Phase,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    #[default]
    Size,
    Data(usize),
    DataEnd,
    Trailers,
}

impl ChunkedDecoder {
    /// Feeds the body bytes received so far (all of them, from the body's
    /// first byte). Returns the body and how many bytes it took once the last
    /// chunk and trailers are in.
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        max: usize,
    ) -> Result<Option<(Vec<u8>, usize)>, ParseError> {
        loop {
            let rest = &input[self.pos..];
            match self.phase {
                Phase::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        let size = usize::try_from(size).map_err(|_| ParseError::BodyTooLarge)?;
                        if self.body.len().saturating_add(size) > max {
                            return Err(ParseError::BodyTooLarge);
                        }
                        self.pos += used;
                        self.phase = if size == 0 {
                            Phase::Trailers
                        } else {
                            Phase::Data(size)
                        };
                    }
                    Ok(httparse::Status::Partial) => {
                        // A size line has no business being this long.
                        if rest.len() > 1024 {
                            return Err(ParseError::BadRequest("invalid chunk size line"));
                        }
                        return Ok(None);
                    }
                    Err(_) => return Err(ParseError::BadRequest("invalid chunk size")),
                },
                Phase::Data(left) => {
                    if rest.is_empty() {
                        return Ok(None);
                    }
                    let take = left.min(rest.len());
                    self.body.extend_from_slice(&rest[..take]);
                    self.pos += take;
                    self.phase = if take == left {
                        Phase::DataEnd
                    } else {
                        Phase::Data(left - take)
                    };
                }
                Phase::DataEnd => {
                    if rest.len() < 2 {
                        return Ok(None);
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(ParseError::BadRequest("chunk data not followed by CRLF"));
                    }
                    self.pos += 2;
                    self.phase = Phase::Size;
                }
                Phase::Trailers => {
                    // Trailer fields are read and dropped; the section ends
                    // with an empty line.
                    let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
                        if rest.len() > 8 * 1024 {
                            return Err(ParseError::HeadTooLarge);
                        }
                        return Ok(None);
                    };
                    self.pos += end + 2;
                    if end == 0 {
                        return Ok(Some((std::mem::take(&mut self.body), self.pos)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ServerConfig {
        ServerConfig::default()
    }

    fn head(raw: &str) -> Result<Option<Head>, ParseError> {
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
            ("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400),
        ];
        for (raw, status) in cases {
            let err = head(raw).expect_err(raw);
            assert_eq!(err.status(), status, "{raw:?}: {err:?}");
        }
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
    fn chunked_bodies_decode_across_arbitrary_splits() {
        let wire = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";
        for split in 1..wire.len() {
            let mut d = ChunkedDecoder::default();
            let mut got = None;
            for end in [split, wire.len()] {
                if let Some(done) = d.feed(&wire[..end], 1024).unwrap() {
                    got = Some(done);
                    break;
                }
            }
            let (body, used) = got.unwrap_or_else(|| panic!("split at {split}"));
            assert_eq!(body, b"Wikipedia");
            assert_eq!(&wire[used..], b"NEXT");
        }
    }

    #[test]
    fn chunked_bodies_are_checked() {
        let bad = |wire: &[u8]| ChunkedDecoder::default().feed(wire, 1024);
        assert_eq!(bad(b"zz\r\n").unwrap_err().status(), 400);
        assert_eq!(bad(b"4\r\nWikiXX").unwrap_err().status(), 400);
        assert_eq!(bad(b"ffffffffffffffffff\r\n").unwrap_err().status(), 400);
        assert_eq!(bad(b"800\r\n").unwrap_err(), ParseError::BodyTooLarge);
        assert_eq!(bad(b"4\r\nWiki\r\n").unwrap(), None);
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
                let _ = parse_head(&bytes, &ServerConfig::default());
            }

            #[test]
            fn the_chunked_decoder_never_panics_and_never_overreads(bytes in proptest::collection::vec(any::<u8>(), 0..256), cut in 0usize..256) {
                let mut d = ChunkedDecoder::default();
                let cut = cut.min(bytes.len());
                if let Ok(Some((_, used))) = d.feed(&bytes[..cut], 64) {
                    prop_assert!(used <= cut);
                } else if let Ok(Some((_, used))) = d.feed(&bytes, 64) {
                    prop_assert!(used <= bytes.len());
                }
            }
        }
    }
}
