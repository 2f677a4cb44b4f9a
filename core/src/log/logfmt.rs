//! logfmt as Go kit writes it (`log.NewLogfmtLogger`, go-logfmt):
//! `key=value` pairs separated by spaces, a value quoted only when it must
//! be.

use core::fmt::{self, Write};

use ::log::kv::Value;

use super::text::{Escaping, Scan, Shape, Small, escape_go, shape};

/// Writes one `key=value` pair (with a leading space unless `first`) as
/// go-logfmt does: characters a key cannot hold (space and controls, `=`,
/// `"`) are dropped, and a key left empty drops the pair; `nil` is `null`;
/// a value is quoted, with Go's escapes, if it holds a space, a control
/// character, `=`, `"` or U+FFFD, or is the word `null`; an empty value is
/// written as nothing (`key=`). Returns whether a pair was written.
///
/// ```
/// use synkit_core::log::logfmt;
/// use log::kv::Value;
///
/// let mut line = String::new();
/// logfmt::pair(&mut line, "method", &Value::from("uppercase"), true).unwrap();
/// logfmt::pair(&mut line, "input", &Value::from("hello, world"), false).unwrap();
/// logfmt::pair(&mut line, "err", &Value::null(), false).unwrap();
/// assert_eq!(line, r#"method=uppercase input="hello, world" err=null"#);
/// ```
pub fn pair(
    out: &mut (impl Write + ?Sized),
    key: &str,
    value: &Value<'_>,
    first: bool,
) -> Result<bool, fmt::Error> {
    let clean = !key.is_empty() && !needs_quotes_bytes(key);
    if !clean && key.chars().all(bad_key_char) {
        return Ok(false);
    }
    if !first {
        out.write_char(' ')?;
    }
    if clean {
        out.write_str(key)?;
    } else {
        for c in key.chars().filter(|c| !bad_key_char(*c)) {
            out.write_char(c)?;
        }
    }
    out.write_char('=')?;
    // Text given as a string is scanned and written as it is; anything else
    // is formatted twice (to look, then to write) rather than kept.
    if let Some(s) = value.to_borrowed_str() {
        return str_value(out, s).map(|()| true);
    }
    match shape(value) {
        Shape::Null => out.write_str("null")?,
        Shape::Bare(bare) => write!(out, "{bare}")?,
        Shape::Text(v) => text(out, v)?,
    }
    Ok(true)
}

/// A string value: bare if it can be, quoted if it must be.
fn str_value(out: &mut (impl Write + ?Sized), s: &str) -> fmt::Result {
    if s == "null" {
        return out.write_str("\"null\"");
    }
    if !needs_quotes_bytes(s) {
        return out.write_str(s);
    }
    out.write_char('"')?;
    Escaping {
        out: &mut *out,
        escape: |w: &mut _, c| escape_go(w, c, false),
    }
    .write_str(s)?;
    out.write_char('"')
}

/// Writes a text value: bare if it can be, quoted if it must be.
pub(crate) fn text(out: &mut (impl Write + ?Sized), value: &dyn fmt::Display) -> fmt::Result {
    if let Some(small) = Small::format(value) {
        return str_value(out, small.as_str());
    }
    let mut scan = Scan::new(needs_quotes, "null");
    write!(scan, "{value}")?;
    if scan.was_word() {
        return out.write_str("\"null\"");
    }
    if !scan.hit {
        return write!(out, "{value}");
    }
    out.write_char('"')?;
    write!(
        Escaping {
            out: &mut *out,
            escape: |w: &mut _, c| escape_go(w, c, false),
        },
        "{value}"
    )?;
    out.write_char('"')
}

/// [`needs_quotes`] over a whole string, a byte at a time: only U+FFFD
/// (`EF BF BD`) is not a single byte, and is looked for only where a byte
/// above ASCII is.
fn needs_quotes_bytes(s: &str) -> bool {
    // Per byte: 1 if it forces quotes, 2 if it is beyond ASCII.
    const CLASS: [u8; 256] = {
        let mut table = [0u8; 256];
        let mut b = 0;
        while b < 256 {
            table[b] = if b <= 0x20 || b == 0x3d || b == 0x22 {
                1
            } else if b >= 0x80 {
                2
            } else {
                0
            };
            b += 1;
        }
        table
    };
    // No early exit: a branch-free OR over short strings is quicker.
    let seen = s.bytes().fold(0u8, |acc, b| acc | CLASS[usize::from(b)]);
    seen & 1 != 0 || (seen & 2 != 0 && s.contains('\u{fffd}'))
}

fn bad_key_char(c: char) -> bool {
    c <= ' ' || c == '=' || c == '"' || c == '\u{fffd}'
}

fn needs_quotes(c: char) -> bool {
    c <= ' ' || c == '=' || c == '"' || c == '\u{fffd}'
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;

    use super::*;

    fn line(pairs: &[(&str, Value<'_>)]) -> String {
        let mut out = String::new();
        let mut first = true;
        for (k, v) in pairs {
            if pair(&mut out, k, v, first).unwrap() {
                first = false;
            }
        }
        out
    }

    #[test]
    fn values_are_quoted_as_go_logfmt_quotes_them() {
        assert_eq!(
            line(&[
                ("plain", Value::from("hello")),
                ("space", Value::from("a b")),
                ("eq", Value::from("a=b")),
                ("quote", Value::from("say \"hi\"")),
                ("newline", Value::from("a\nb\tc\u{1}")),
                ("null_word", Value::from("null")),
                ("empty", Value::from("")),
                ("unicode", Value::from("straße")),
                ("backslash", Value::from("a\\b")),
                ("n", Value::from(-5i64)),
                ("f", Value::from(1.5f64)),
                ("b", Value::from(true)),
                ("nil", Value::null()),
            ]),
            "plain=hello space=\"a b\" eq=\"a=b\" quote=\"say \\\"hi\\\"\" newline=\"a\\nb\\tc\\u0001\" \
             null_word=\"null\" empty= unicode=straße backslash=a\\b n=-5 f=1.5 b=true nil=null"
        );
    }

    #[test]
    fn bad_key_characters_are_dropped_and_empty_keys_skipped() {
        assert_eq!(
            line(&[
                ("a b=\"c", Value::from(1u64)),
                ("= ", Value::from(2u64)),
                ("d", Value::from(3u64))
            ]),
            "abc=1 d=3"
        );
    }

    #[test]
    fn display_values_are_scanned_then_written() {
        struct Joined;
        impl fmt::Display for Joined {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("x-")?;
                f.write_str("y y")
            }
        }
        assert_eq!(line(&[("k", Value::from_display(&Joined))]), "k=\"x-y y\"");
    }
}
