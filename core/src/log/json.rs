//! JSON lines as Go kit writes them (`log.NewJSONLogger`): one object per
//! record, keys in sorted order (Go encodes a map so), the last of a
//! repeated key winning, `nil` as `null`, anything else that is not a
//! number or boolean as its text.

use core::fmt::{self, Write};

use ::log::kv::Value;

use super::text::{Bare, Escaping, Shape, escape_go, shape};

/// The most fields one record sorts; any beyond follow unsorted.
pub const MAX_SORTED: usize = 32;

/// Writes `pairs` as one JSON object, as Go kit's JSON logger does.
///
/// ```
/// use synkit_core::log::json;
/// use log::kv::Value;
///
/// let mut line = String::new();
/// json::object(&mut line, &[
///     ("method", Value::from("uppercase")),
///     ("err", Value::null()),
///     ("n", Value::from(5u64)),
/// ]).unwrap();
/// assert_eq!(line, r#"{"err":null,"method":"uppercase","n":5}"#);
/// ```
pub fn object<W: Write + ?Sized>(out: &mut W, pairs: &[(&str, Value<'_>)]) -> fmt::Result {
    let mut order = [0usize; MAX_SORTED];
    let sorted = pairs.len().min(MAX_SORTED);
    for (i, slot) in order.iter_mut().enumerate().take(sorted) {
        *slot = i;
    }
    // Stable: among equal keys the last written stays last.
    order[..sorted].sort_by(|&a, &b| pairs[a].0.cmp(pairs[b].0));
    out.write_char('{')?;
    let mut first = true;
    for (n, &i) in order[..sorted].iter().enumerate() {
        let later_same = order[n + 1..sorted]
            .first()
            .is_some_and(|&j| pairs[j].0 == pairs[i].0);
        if !later_same {
            member(out, &mut first, &pairs[i])?;
        }
    }
    for pair in &pairs[sorted..] {
        member(out, &mut first, pair)?;
    }
    out.write_char('}')
}

fn member<W: Write + ?Sized>(
    out: &mut W,
    first: &mut bool,
    (key, value): &(&str, Value<'_>),
) -> fmt::Result {
    if !*first {
        out.write_char(',')?;
    }
    *first = false;
    string(out, key)?;
    out.write_char(':')?;
    if let Some(s) = value.to_borrowed_str() {
        return string(out, &s);
    }
    match shape(value) {
        Shape::Null => out.write_str("null"),
        // JSON has no NaN or infinities; Go's encoder refuses them, a log
        // line should not: as strings.
        Shape::Bare(Bare::F64(x)) if !x.is_finite() => write!(out, "\"{}\"", Bare::F64(x)),
        Shape::Bare(bare) => write!(out, "{bare}"),
        Shape::Text(v) => string(out, v),
    }
}

/// A JSON string with Go's escapes.
pub(crate) fn string<W: Write + ?Sized>(out: &mut W, value: &dyn fmt::Display) -> fmt::Result {
    out.write_char('"')?;
    write!(
        Escaping {
            out: &mut *out,
            escape: |w: &mut W, c| escape_go(w, c, true),
        },
        "{value}"
    )?;
    out.write_char('"')
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;

    use super::*;

    fn line(pairs: &[(&str, Value<'_>)]) -> String {
        let mut out = String::new();
        object(&mut out, pairs).unwrap();
        out
    }

    #[test]
    fn keys_sort_the_last_repeat_wins_and_strings_escape_as_go() {
        assert_eq!(
            line(&[
                ("z", Value::from("a\"b\\c\n\u{2028}<&>")),
                ("a", Value::from(1u64)),
                ("m", Value::from("first")),
                ("m", Value::from("second")),
                ("nan", Value::from(f64::NAN)),
                ("f", Value::from(-2.5f64)),
                ("t", Value::from(false)),
            ]),
            r#"{"a":1,"f":-2.5,"m":"second","nan":"NaN","t":false,"z":"a\"b\\c\n\u2028<&>"}"#
        );
    }
}
