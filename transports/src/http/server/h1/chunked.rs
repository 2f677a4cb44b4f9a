//! The chunked transfer coding (RFC 9112 §7.1), decoded as bytes arrive.
//!
//! The decoder consumes its input: chunk data goes into the body and the
//! framing is dropped, so the connection keeps no encoded bytes around and
//! the body limit applies to the body, not to its framing. A client that
//! sends a legal body one byte per chunk costs the server the body, not six
//! times the body.

use super::parse::ParseError;

/// The longest chunk-size line (with extensions) accepted.
const MAX_SIZE_LINE: usize = 1024;
/// The largest trailer section accepted; trailers are read and dropped.
const MAX_TRAILERS: usize = 8 * 1024;
/// The most input the decoder leaves unconsumed before it refuses the
/// body: the connection keeps reading until then.
#[cfg(any(fuzzing, test))]
pub(crate) const MAX_FRAMING_LINE: usize = MAX_TRAILERS;

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a chunk-size line.
    Size,
    /// Inside a chunk's data, with this many bytes left.
    Data(usize),
    /// After a chunk's data, expecting CRLF.
    DataEnd,
    /// After the last chunk, reading trailer lines; how many bytes of
    /// trailers have gone by.
    Trailers(usize),
    /// The body is complete.
    Done,
}

/// An incremental chunked-body decoder.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    phase: Phase,
}

impl Default for ChunkedDecoder {
    fn default() -> ChunkedDecoder {
        ChunkedDecoder { phase: Phase::Size }
    }
}

/// What one call to [`ChunkedDecoder::decode`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Bytes of the input consumed; the caller drops them.
    pub(crate) consumed: usize,
    /// Whether the body is complete.
    pub(crate) done: bool,
}

impl ChunkedDecoder {
    /// Decodes what it can of `input` into `body`, never letting `body`
    /// grow past `max`. Bytes it cannot use yet (half a size line) are left
    /// unconsumed for the next call, which gets them again with more behind.
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
        max: usize,
    ) -> Result<Progress, ParseError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            // Each phase takes what it can: `Some(bytes used)`, or `None`
            // to wait for more input.
            let used = match self.phase {
                Phase::Done => {
                    return Ok(Progress {
                        consumed: pos,
                        done: true,
                    });
                }
                Phase::Size => self.size_line(rest, body.len(), max)?,
                Phase::Data(left) => self.data(rest, left, body),
                Phase::DataEnd => self.data_end(rest)?,
                Phase::Trailers(seen) => self.trailer_line(rest, seen)?,
            };
            match used {
                Some(used) => pos += used,
                None => {
                    return Ok(Progress {
                        consumed: pos,
                        done: false,
                    });
                }
            }
        }
    }

    /// A chunk's size line: the chunk's data next, or the trailers after
    /// the last (size 0) chunk.
    fn size_line(
        &mut self,
        rest: &[u8],
        so_far: usize,
        max: usize,
    ) -> Result<Option<usize>, ParseError> {
        match httparse::parse_chunk_size(rest) {
            Ok(httparse::Status::Complete((used, size))) => {
                let size = usize::try_from(size).map_err(|_| ParseError::BodyTooLarge)?;
                if so_far.saturating_add(size) > max {
                    return Err(ParseError::BodyTooLarge);
                }
                self.phase = if size == 0 {
                    Phase::Trailers(0)
                } else {
                    Phase::Data(size)
                };
                Ok(Some(used))
            }
            Ok(httparse::Status::Partial) if rest.len() > MAX_SIZE_LINE => {
                Err(ParseError::BadRequest("invalid chunk size line"))
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(_) => Err(ParseError::BadRequest("invalid chunk size")),
        }
    }

    /// As much of a chunk's `left` bytes of data as have come.
    fn data(&mut self, rest: &[u8], left: usize, body: &mut Vec<u8>) -> Option<usize> {
        if rest.is_empty() {
            return None;
        }
        let take = left.min(rest.len());
        body.extend_from_slice(&rest[..take]);
        self.phase = if take == left {
            Phase::DataEnd
        } else {
            Phase::Data(left - take)
        };
        Some(take)
    }

    /// The CRLF that ends a chunk's data.
    fn data_end(&mut self, rest: &[u8]) -> Result<Option<usize>, ParseError> {
        match rest {
            [b'\r', b'\n', ..] => {
                self.phase = Phase::Size;
                Ok(Some(2))
            }
            [] | [b'\r'] => Ok(None),
            _ => Err(ParseError::BadRequest("chunk data not followed by CRLF")),
        }
    }

    /// One trailer line, read and dropped a whole line at a time, `seen`
    /// bytes of trailers before it; the section ends with an empty line.
    fn trailer_line(&mut self, rest: &[u8], seen: usize) -> Result<Option<usize>, ParseError> {
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            if seen + rest.len() > MAX_TRAILERS {
                return Err(ParseError::HeadTooLarge);
            }
            return Ok(None);
        };
        self.phase = if end == 0 {
            Phase::Done
        } else if seen + end + 2 > MAX_TRAILERS {
            return Err(ParseError::HeadTooLarge);
        } else {
            Phase::Trailers(seen + end + 2)
        };
        Ok(Some(end + 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `wire` in pieces ending at each of `cuts`, keeping unconsumed
    /// bytes as a connection would; returns the body and what was left.
    fn decode_in_pieces(
        wire: &[u8],
        cuts: &[usize],
        max: usize,
    ) -> Result<(Vec<u8>, Vec<u8>), ParseError> {
        let mut d = ChunkedDecoder::default();
        let mut body = Vec::new();
        let mut pending = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain([&wire.len()]) {
            pending.extend_from_slice(&wire[from..cut.max(from)]);
            from = cut.max(from);
            let p = d.decode(&pending, &mut body, max)?;
            pending.drain(..p.consumed);
            if p.done {
                pending.extend_from_slice(&wire[from..]);
                return Ok((body, pending));
            }
        }
        Err(ParseError::BadRequest("incomplete"))
    }

    const WIRE: &[u8] = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";

    #[test]
    fn decodes_across_every_split_point() {
        for split in 0..WIRE.len() {
            let (body, rest) = decode_in_pieces(WIRE, &[split], 1024).unwrap();
            assert_eq!(body, b"Wikipedia", "split at {split}");
            assert_eq!(rest, b"NEXT", "split at {split}");
        }
    }

    #[test]
    fn decodes_a_byte_at_a_time() {
        let cuts: Vec<usize> = (1..WIRE.len()).collect();
        let (body, rest) = decode_in_pieces(WIRE, &cuts, 1024).unwrap();
        assert_eq!(body, b"Wikipedia");
        assert_eq!(rest, b"NEXT");
    }

    #[test]
    fn keeps_only_an_unfinished_size_line_unconsumed() {
        let mut d = ChunkedDecoder::default();
        let mut body = Vec::new();
        let p = d.decode(b"4\r\nWi", &mut body, 1024).unwrap();
        assert_eq!(
            p,
            Progress {
                consumed: 5,
                done: false
            }
        );
        assert_eq!(body, b"Wi");
        let p = d.decode(b"ki\r\n1", &mut body, 1024).unwrap();
        assert_eq!(
            p,
            Progress {
                consumed: 4,
                done: false
            },
            "the size line waits"
        );
    }

    #[test]
    fn the_limit_is_on_the_body_not_the_framing() {
        // 300 one-byte chunks: 1 800 bytes on the wire, a 300-byte body.
        let mut wire = b"1\r\nx\r\n".repeat(300);
        wire.extend_from_slice(b"0\r\n\r\n");
        let (body, _) = decode_in_pieces(&wire, &[], 300).unwrap();
        assert_eq!(body.len(), 300);
        let mut wire = b"1\r\nx\r\n".repeat(301);
        wire.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(
            decode_in_pieces(&wire, &[], 300).unwrap_err(),
            ParseError::BodyTooLarge
        );
    }

    #[test]
    fn bad_framing_is_refused() {
        let bad = |wire: &[u8]| ChunkedDecoder::default().decode(wire, &mut Vec::new(), 1024);
        assert_eq!(bad(b"zz\r\n").unwrap_err().status(), 400);
        assert_eq!(bad(b"4\r\nWikiXX").unwrap_err().status(), 400);
        assert_eq!(bad(b"ffffffffffffffffff\r\n").unwrap_err().status(), 400);
        assert_eq!(bad(b"800\r\n").unwrap_err(), ParseError::BodyTooLarge);
        assert_eq!(bad(&[b'1'; 2000]).unwrap_err().status(), 400);
        assert!(!bad(b"4\r\nWiki\r\n").unwrap().done);
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(b"X: y\r\n".repeat(2000));
        assert_eq!(bad(&trailers).unwrap_err(), ParseError::HeadTooLarge);
    }

    mod arbitrary_bytes {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn never_panics_overreads_or_overgrows(bytes in proptest::collection::vec(any::<u8>(), 0..256), cut in 0usize..256) {
                let mut d = ChunkedDecoder::default();
                let mut body = Vec::new();
                let cut = cut.min(bytes.len());
                if let Ok(p) = d.decode(&bytes[..cut], &mut body, 64) {
                    prop_assert!(p.consumed <= cut);
                    prop_assert!(body.len() <= 64);
                    if let Ok(q) = d.decode(&bytes[p.consumed..], &mut body, 64) {
                        prop_assert!(p.consumed + q.consumed <= bytes.len());
                        prop_assert!(body.len() <= 64);
                    }
                }
            }
        }
    }
}
