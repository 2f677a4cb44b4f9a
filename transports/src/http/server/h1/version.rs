//! Request lines with an HTTP version httparse does not know.

use ::http::Request;

use super::super::ServerConfig;
use super::parse::{Head, ParseError, parse_head_into, too_large};

/// httparse knows only HTTP/1.0 and 1.1. RFC 9112 §2.3 (and Go) serve a
/// later 1.x as the highest minor version implemented, so `HTTP/1.2` is read
/// as `HTTP/1.1`; any other version gets 505 (or 400 if it is not one).
/// Rare, so the copy this takes does not matter.
pub(super) fn parse_later_minor_version(
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
