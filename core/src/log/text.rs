//! Turning a `log` value into text twice without keeping it: once to see
//! how it must be written, once to write it.

use core::fmt::{self, Write};

use ::log::kv::{Value, VisitValue};

/// What a value is, for an encoder: Go's `nil`, a number or boolean
/// written bare, or text.
pub(crate) enum Shape<'v> {
    Null,
    Bare(Bare),
    Text(&'v Value<'v>),
}

/// A number or boolean, as Go prints it.
#[derive(Clone, Copy)]
pub(crate) enum Bare {
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
}

impl fmt::Display for Bare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Bare::U64(n) => write!(f, "{n}"),
            Bare::I64(n) => write!(f, "{n}"),
            Bare::F64(x) if x.is_nan() => f.write_str("NaN"),
            Bare::F64(x) if x.is_infinite() => f.write_str(if x > 0.0 { "+Inf" } else { "-Inf" }),
            Bare::F64(x) => write!(f, "{x}"),
            Bare::Bool(b) => write!(f, "{b}"),
        }
    }
}

struct Classify(Option<Bare>, bool);

impl VisitValue<'_> for Classify {
    fn visit_any(&mut self, _: Value<'_>) -> Result<(), ::log::kv::Error> {
        Ok(())
    }
    fn visit_null(&mut self) -> Result<(), ::log::kv::Error> {
        self.1 = true;
        Ok(())
    }
    fn visit_u64(&mut self, n: u64) -> Result<(), ::log::kv::Error> {
        self.0 = Some(Bare::U64(n));
        Ok(())
    }
    fn visit_i64(&mut self, n: i64) -> Result<(), ::log::kv::Error> {
        self.0 = Some(Bare::I64(n));
        Ok(())
    }
    fn visit_f64(&mut self, x: f64) -> Result<(), ::log::kv::Error> {
        self.0 = Some(Bare::F64(x));
        Ok(())
    }
    fn visit_bool(&mut self, b: bool) -> Result<(), ::log::kv::Error> {
        self.0 = Some(Bare::Bool(b));
        Ok(())
    }
}

/// The shape of `value`.
pub(crate) fn shape<'v>(value: &'v Value<'v>) -> Shape<'v> {
    let mut c = Classify(None, false);
    let _ = value.visit(&mut c);
    match c {
        Classify(_, true) => Shape::Null,
        Classify(Some(bare), _) => Shape::Bare(bare),
        Classify(None, _) => Shape::Text(value),
    }
}

/// Watches text go by: whether any character satisfies a test, and
/// whether the whole text is one given word.
pub(crate) struct Scan<F> {
    pub(crate) hit: bool,
    test: F,
    word: &'static str,
    matched: usize,
    exact: bool,
}

impl<F: FnMut(char) -> bool> Scan<F> {
    pub(crate) fn new(test: F, word: &'static str) -> Scan<F> {
        Scan {
            hit: false,
            test,
            word,
            matched: 0,
            exact: true,
        }
    }

    /// Whether the text was exactly the word.
    pub(crate) fn was_word(&self) -> bool {
        self.exact && self.matched == self.word.len()
    }

    /// Whether nothing was written.
    pub(crate) fn was_empty(&self) -> bool {
        self.exact && self.matched == 0
    }
}

impl<F: FnMut(char) -> bool> Write for Scan<F> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.exact {
            let rest = &self.word.as_bytes()[self.matched..];
            if rest.starts_with(s.as_bytes()) {
                self.matched += s.len();
            } else {
                self.exact = false;
            }
        }
        if !self.hit {
            self.hit = s.chars().any(&mut self.test);
        }
        Ok(())
    }
}

/// Writes text through an escaper, a character at a time.
pub(crate) struct Escaping<'w, W: ?Sized, F> {
    pub(crate) out: &'w mut W,
    pub(crate) escape: F,
}

impl<W: Write + ?Sized, F: FnMut(&mut W, char) -> fmt::Result> Write for Escaping<'_, W, F> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Runs of characters that need no escape go out whole. Bytes are
        // looked at, not characters: every character escaped is ASCII or
        // starts with E2 (U+2028, U+2029) or EF (U+FFFD).
        let bytes = s.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b >= 0x20 && b != b'"' && b != b'\\' && b != 0xe2 && b != 0xef {
                i += 1;
                continue;
            }
            // `i` is a character boundary: every byte tested above is a
            // lead byte or ASCII.
            let c = s[i..].chars().next().unwrap_or('\0');
            if needs_escape(c) {
                self.out.write_str(&s[start..i])?;
                (self.escape)(self.out, c)?;
                start = i + c.len_utf8();
            }
            i += c.len_utf8();
        }
        self.out.write_str(&s[start..])
    }
}

/// Up to 64 bytes of text on the stack: a value formatted once, then
/// looked at and written as a string.
pub(crate) struct Small {
    buf: [u8; 64],
    len: usize,
    overflowed: bool,
}

impl Small {
    /// `value` formatted, or `None` if it is longer than 64 bytes.
    pub(crate) fn format(value: &dyn fmt::Display) -> Option<Small> {
        let mut small = Small {
            buf: [0; 64],
            len: 0,
            overflowed: false,
        };
        let _ = write!(small, "{value}");
        (!small.overflowed).then_some(small)
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Whole `write_str` pieces only were copied: valid UTF-8.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Write for Small {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            self.overflowed = true;
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The characters both encoders escape: quotes, backslashes, controls,
/// U+FFFD (what invalid UTF-8 became) and JSON's line separators.
fn needs_escape(c: char) -> bool {
    c < ' ' || c == '"' || c == '\\' || c == '\u{2028}' || c == '\u{2029}' || c == '\u{fffd}'
}

/// Writes `c` as Go's quoted strings do: `\"`, `\\`, `\n`, `\r`, `\t`,
/// other controls as `\u00XX`; `json` also escapes U+2028 and U+2029.
pub(crate) fn escape_go(out: &mut (impl Write + ?Sized), c: char, json: bool) -> fmt::Result {
    match c {
        '"' => out.write_str("\\\""),
        '\\' => out.write_str("\\\\"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        '\u{fffd}' if !json => out.write_str("\\ufffd"),
        '\u{2028}' if json => out.write_str("\\u2028"),
        '\u{2029}' if json => out.write_str("\\u2029"),
        c if c < ' ' => write!(out, "\\u{:04x}", u32::from(c)),
        c => out.write_char(c),
    }
}
