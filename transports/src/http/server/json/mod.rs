use ::http::{HeaderValue, Request, Response, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use synkit_core::Context;

use super::{DecodeError, EncodeError};

mod fold;
mod go;
mod zero;

/// Decodes a JSON request body into `T`: a decode function for a
/// [`Handler`](super::Handler). Malformed JSON, or JSON of the wrong shape,
/// is a 400 with a JSON body saying what was wrong.
///
/// ```
/// use synkit_core::Context;
/// use synkit_transports::http::Request;
/// use synkit_transports::http::server::decode_json;
///
/// #[derive(serde::Deserialize)]
/// struct Sum { a: i64, b: i64 }
///
/// let req = Request::new(br#"{"a":1,"b":2}"#.to_vec());
/// let sum: Sum = decode_json(&Context::background(), &req).unwrap();
/// assert_eq!(sum.a + sum.b, 3);
///
/// let bad = Request::new(b"{oops".to_vec());
/// assert!(decode_json::<Sum>(&Context::background(), &bad).is_err());
/// ```
pub fn decode_json<T: DeserializeOwned>(
    _cx: &Context<'_>,
    req: &Request<Vec<u8>>,
) -> Result<T, DecodeError> {
    serde_json::from_slice(req.body())
        .map_err(|e| DecodeError::bad_request(format!("invalid JSON: {e}")))
}

/// Decodes a JSON request body into `T` exactly as a Go kit service's
/// `json.NewDecoder(r.Body).Decode(&request)` would: a decode function for
/// a [`Handler`](super::Handler) that must read what Go reads.
///
/// Where [`decode_json`] is strict, this follows Go's `encoding/json`:
/// object keys match fields case-insensitively (Unicode simple folding),
/// the last of duplicate keys wins, missing and `null` fields keep their
/// zero value (no `#[serde(default)]` needed), only the first JSON value
/// is read and anything after it ignored, and invalid UTF-8 becomes
/// U+FFFD. Malformed JSON or a value of the wrong type is still a 400 with
/// a JSON body.
///
/// ```
/// use synkit_core::Context;
/// use synkit_transports::http::Request;
/// use synkit_transports::http::server::decode_go_json;
///
/// #[derive(serde::Deserialize)]
/// struct Sum { a: i64, b: i64 }
///
/// let req = Request::new(br#"{"A":1} trailing"#.to_vec());
/// let sum: Sum = decode_go_json(&Context::background(), &req).unwrap();
/// assert_eq!((sum.a, sum.b), (1, 0));
/// ```
pub fn decode_go_json<T: DeserializeOwned>(
    _cx: &Context<'_>,
    req: &Request<Vec<u8>>,
) -> Result<T, DecodeError> {
    go::from_slice(req.body()).map_err(|e| DecodeError::bad_request(format!("invalid JSON: {e}")))
}

/// Encodes `value` into `resp` the way Go kit's `EncodeJSONResponse` does:
/// `Content-Type: application/json; charset=utf-8`, the body ending in a
/// newline, and escaped as Go's `encoding/json` escapes (see [`go_json`]),
/// so the bytes match a Go kit service's. The JSON is written straight
/// into the response's body buffer, which the server keeps from one
/// request to the next.
pub fn encode_json<T: Serialize>(
    _cx: &Context<'_>,
    value: T,
    resp: &mut Response<Vec<u8>>,
) -> Result<(), EncodeError> {
    let body = resp.body_mut();
    body.clear();
    go_json_into(body, &value)?;
    body.push(b'\n');
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(())
}

/// Appends `value` as JSON, escaped as [`go_json`] escapes it, to `out`.
pub fn go_json_into<T: Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), EncodeError> {
    let start = out.len();
    serde_json::to_writer(&mut *out, value).map_err(|e| EncodeError(e.to_string()))?;
    if out[start..]
        .iter()
        .any(|b| matches!(b, b'<' | b'>' | b'&' | b'\\' | 0xe2))
    {
        let escaped = go_escape(&out[start..]);
        out.truncate(start);
        out.extend_from_slice(&escaped);
    }
    Ok(())
}

/// `value` as JSON escaped as Go's `encoding/json` escapes it, where
/// `serde_json` does not: `<`, `>`, `&`, U+2028 and U+2029 become
/// `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029` (Go's HTML-safe
/// escaping), and backspace and form feed `\u0008` and `\u000c` (Go has
/// no short forms for them).
pub fn go_json<T: Serialize>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    go_json_into(&mut out, value)?;
    Ok(out)
}

/// `serde_json`'s output with Go's escapes in place of its own.
fn go_escape(raw: &[u8]) -> Vec<u8> {
    // These bytes can only occur inside strings in serde_json's output, so
    // escaping them everywhere is escaping them in strings.
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            // An escape: copied whole, so `\\b` (an escaped backslash, then
            // b) is never read as `\b`.
            b'\\' => {
                match raw.get(i + 1) {
                    Some(b'b') => out.extend_from_slice(b"\\u0008"),
                    Some(b'f') => out.extend_from_slice(b"\\u000c"),
                    Some(&next) => out.extend_from_slice(&[b'\\', next]),
                    None => out.push(b'\\'),
                }
                i += 1;
            }
            0xe2 if raw.get(i + 1) == Some(&0x80)
                && matches!(raw.get(i + 2), Some(0xa8 | 0xa9)) =>
            {
                out.extend_from_slice(if raw[i + 2] == 0xa8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_like_go() {
        let out = go_json(&serde_json::json!({"v": "<B>&\u{2028}é"})).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"v":"\u003cB\u003e\u0026\u2028é"}"#
        );
    }

    #[test]
    fn escapes_control_characters_like_go() {
        let out = go_json(&serde_json::json!({"v": "a\u{8}b\u{c}c\n\t\\b\\f\u{1f}"})).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"v":"a\u0008b\u000cc\n\t\\b\\f\u001f"}"#
        );
    }

    #[test]
    fn json_responses_end_with_a_newline_like_go_kit() {
        let mut resp = Response::new(b"stale".to_vec());
        encode_json(
            &Context::background(),
            serde_json::json!({"v": 3}),
            &mut resp,
        )
        .unwrap();
        assert_eq!(resp.body(), b"{\"v\":3}\n");
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
    }
}
