//! JSON decoding as Go's `json.NewDecoder(r.Body).Decode(&v)` does it, for
//! services that must read requests exactly as a Go kit service would.
//!
//! Go's rules, and what this module does for each:
//!
//! - Only the first JSON value is read; whatever follows it is ignored.
//! - Invalid UTF-8 becomes U+FFFD, one per invalid byte.
//! - An object's keys find struct fields by exact name first, then
//!   case-insensitively (Unicode simple folding, so `K` also matches the
//!   Kelvin sign); keys that match no field are ignored.
//! - When a key appears twice, the last one wins.
//! - A missing field, or one given as `null`, keeps its zero value (`""`,
//!   `0`, `false`, empty collections, `None`), with no `#[serde(default)]`
//!   needed.

use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapDeserializer, SeqDeserializer};

use super::zero::Zero;
use serde::de::{
    self, DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

/// A JSON value that keeps an object's keys in the order they came, as
/// Go's decoder sees them (`serde_json::Map` sorts them).
#[derive(Debug)]
enum Value {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(Value::U64(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::I64(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::F64(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Value, E> {
                Ok(Value::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Value::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Value::Object(entries))
            }
        }
        d.deserialize_any(Any)
    }
}

/// Why a body could not be decoded.
#[derive(Debug)]
pub(crate) struct GoDecodeError(pub(super) String);

impl fmt::Display for GoDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GoDecodeError {}

impl de::Error for GoDecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        GoDecodeError(msg.to_string())
    }
}

/// Decodes the first JSON value in `body` into `T` with Go's rules.
pub(crate) fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, GoDecodeError> {
    // The fast path decodes as Go would or not at all; see `fold`.
    if let Ok(text) = std::str::from_utf8(body) {
        let mut de = serde_json::Deserializer::from_str(text);
        if let Ok(value) = T::deserialize(super::fold::Fold(&mut de)) {
            return Ok(value);
        }
    }
    let text = replace_invalid_utf8(body);
    let mut values = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    let value = match values.next() {
        None => return Err(GoDecodeError("EOF: the body holds no JSON value".into())),
        Some(Err(e)) => return Err(GoDecodeError(e.to_string())),
        Some(Ok(v)) => v,
    };
    T::deserialize(GoValue(&value))
}

/// `bytes` as text, each byte that is not part of valid UTF-8 replaced by
/// U+FFFD, as Go's decoder does inside strings (outside them such a byte
/// is a syntax error either way).
fn replace_invalid_utf8(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    let mut rest = bytes;
    let first_error = match std::str::from_utf8(rest) {
        Ok(s) => return std::borrow::Cow::Borrowed(s),
        Err(e) => e,
    };
    let mut out = String::with_capacity(bytes.len() + 8);
    let mut err = first_error;
    loop {
        let (valid, after) = rest.split_at(err.valid_up_to());
        // `valid_up_to` marks where valid UTF-8 ends.
        out.push_str(std::str::from_utf8(valid).unwrap_or_default());
        out.push('\u{FFFD}');
        rest = &after[1..];
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return std::borrow::Cow::Owned(out);
            }
            Err(e) => err = e,
        }
    }
}

/// Whether an object key names a field the way Go matches them: equal, or
/// equal under simple case folding.
pub(super) fn key_matches(key: &str, field: &str) -> bool {
    if key.len() == field.len() && key.eq_ignore_ascii_case(field) {
        return true;
    }
    let fold = |c: char| {
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) if c != '\u{17F}' => l,
            // The long s folds with s.
            _ if c == '\u{17F}' => 's',
            _ => c,
        }
    };
    let mut a = key.chars().map(fold);
    let mut b = field.chars().map(fold);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
    }
}

/// A JSON value read with Go's rules.
pub(super) struct GoValue<'a>(&'a Value);

macro_rules! null_is_zero {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoDecodeError> {
            if self.0.is_null() {
                Zero.$method(visitor)
            } else {
                self.deserialize_any(visitor)
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for GoValue<'_> {
    type Error = GoDecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoDecodeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::U64(n) => visitor.visit_u64(*n),
            Value::I64(n) => visitor.visit_i64(*n),
            Value::F64(n) => visitor.visit_f64(*n),
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => {
                visitor.visit_seq(SeqDeserializer::new(items.iter().map(GoValue)))
            }
            Value::Object(entries) => visitor.visit_map(MapDeserializer::new(
                entries.iter().map(|(k, v)| (k.as_str(), GoValue(v))),
            )),
        }
    }

    null_is_zero!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_seq,
        deserialize_map
    );

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoDecodeError> {
        if self.0.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GoDecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GoDecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GoDecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, GoDecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, GoDecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GoDecodeError> {
        let map = match self.0 {
            Value::Null => return Zero.deserialize_struct(name, fields, visitor),
            Value::Object(entries) => entries,
            other => {
                return Err(GoDecodeError(format!(
                    "cannot decode {} into a struct",
                    kind(other)
                )));
            }
        };
        visitor.visit_map(MapDeserializer::new(struct_fields(map, fields).into_iter()))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GoDecodeError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => Err(GoDecodeError(format!(
                "cannot decode {} into an enum",
                kind(other)
            ))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, GoDecodeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, GoDecodeError> {
        visitor.visit_unit()
    }
}

/// Each of `fields` with the value Go would give it from `map`: the last
/// key naming it (exactly, else by folding), or zero.
fn struct_fields<'a>(
    map: &'a [(String, Value)],
    fields: &'static [&'static str],
) -> Vec<(&'static str, FieldValue<'a>)> {
    let mut chosen: Vec<Option<&'a Value>> = vec![None; fields.len()];
    for (key, value) in map {
        let slot = fields
            .iter()
            .position(|f| f == key)
            .or_else(|| fields.iter().position(|f| key_matches(key, f)));
        if let Some(i) = slot
            && !value.is_null()
        {
            chosen[i] = Some(value);
        }
    }
    fields
        .iter()
        .zip(chosen)
        .map(|(&name, value)| {
            (
                name,
                value.map_or(FieldValue::Zero, |v| FieldValue::Value(GoValue(v))),
            )
        })
        .collect()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::U64(_) | Value::I64(_) | Value::F64(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A struct field's value: from the body, or zero.
pub(super) enum FieldValue<'a> {
    Value(GoValue<'a>),
    Zero,
}

impl IntoDeserializer<'_, GoDecodeError> for FieldValue<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl IntoDeserializer<'_, GoDecodeError> for GoValue<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! forward_field {
    ($($method:ident $(, $arg:ident: $ty:ty)*;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, GoDecodeError> {
            match self {
                FieldValue::Value(v) => v.$method($($arg,)* visitor),
                FieldValue::Zero => Zero.$method($($arg,)* visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for FieldValue<'_> {
    type Error = GoDecodeError;

    forward_field!(
        deserialize_any; deserialize_bool; deserialize_i8; deserialize_i16; deserialize_i32;
        deserialize_i64; deserialize_i128; deserialize_u8; deserialize_u16; deserialize_u32;
        deserialize_u64; deserialize_u128; deserialize_f32; deserialize_f64; deserialize_char;
        deserialize_str; deserialize_string; deserialize_bytes; deserialize_byte_buf;
        deserialize_option; deserialize_unit; deserialize_seq; deserialize_map;
        deserialize_identifier; deserialize_ignored_any;
        deserialize_unit_struct, name: &'static str;
        deserialize_newtype_struct, name: &'static str;
        deserialize_tuple, len: usize;
        deserialize_tuple_struct, name: &'static str, len: usize;
        deserialize_struct, name: &'static str, fields: &'static [&'static str];
        deserialize_enum, name: &'static str, variants: &'static [&'static str];
    );
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    struct Req {
        s: String,
        #[serde(rename = "Count")]
        n: i32,
        tags: Vec<String>,
        extra: Option<u8>,
        inner: Inner,
    }

    #[derive(Deserialize)]
    struct K {
        k: u8,
        s: u8,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    struct Inner {
        ok: bool,
    }

    fn req(body: &[u8]) -> Req {
        from_slice(body).unwrap()
    }

    #[test]
    fn missing_and_null_fields_are_zero() {
        assert_eq!(req(b"{}"), Req::default());
        assert_eq!(
            req(br#"{"s":null,"Count":null,"tags":null,"extra":null,"inner":null}"#),
            Req::default()
        );
        assert_eq!(req(b"null"), Req::default());
    }

    #[test]
    fn keys_match_fields_without_regard_to_case_and_the_last_wins() {
        let r = req(br#"{"S":"a","COUNT":1,"count":2,"Inner":{"OK":true}}"#);
        assert_eq!((r.s.as_str(), r.n, r.inner.ok), ("a", 2, true));
        // An exact match is preferred over a folded one only in choosing
        // the field; order still decides the value.
        assert_eq!(req(br#"{"s":"exact","S":"later"}"#).s, "later");
        // Go folds the Kelvin sign with k and the long s with s.
        let k: K = from_slice("{\"\u{212A}\":7,\"\u{17F}\":8}".as_bytes()).unwrap();
        assert_eq!((k.k, k.s), (7, 8));
    }

    #[test]
    fn only_the_first_value_is_read() {
        assert_eq!(req(br#" {"s":"one"} {"s":"two"}"#).s, "one");
        assert_eq!(req(br#"{"s":"one"}garbage"#).s, "one");
        assert!(from_slice::<Req>(b"").is_err());
        assert!(from_slice::<Req>(br#"{"s":"#).is_err());
    }

    #[test]
    fn invalid_utf8_becomes_one_replacement_per_byte() {
        assert_eq!(req(b"{\"s\":\"a\xffb\"}").s, "a\u{FFFD}b");
        assert_eq!(req(b"{\"s\":\"\xe2\x82\"}").s, "\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn the_fast_path_agrees_with_the_value_tree() {
        let bodies: [&[u8]; 9] = [
            br#"{"s":"a","Count":1,"tags":["x"],"extra":3,"inner":{"ok":true}}"#,
            br#"{"S":"a","COUNT":1,"TAGS":[],"Extra":null,"INNER":{"OK":true}}"#,
            br#"{"s":"a","S":"b","count":1,"Count":2,"tags":[],"inner":{}}"#,
            br#"{"inner":{"ok":true,"OK":false},"s":"","count":0,"tags":[]}"#,
            br#"{"s":"x","count":5,"tags":["a","b"],"extra":7,"inner":{"ok":false}} tail"#,
            br#"{"unknown":{"deep":[1,2,{"x":null}]},"s":"y","count":1,"tags":[],"inner":{"ok":true}}"#,
            "{\"\u{17F}\":\"long s\",\"count\":1,\"tags\":[],\"inner\":{\"ok\":true}}".as_bytes(),
            br#"{"s":null,"count":1,"tags":[],"inner":{"ok":true}}"#,
            br#"{"s":"z"}"#,
        ];
        for body in bodies {
            let fast = std::str::from_utf8(body).ok().and_then(|t| {
                let mut de = serde_json::Deserializer::from_str(t);
                Req::deserialize(crate::http::server::json::fold::Fold(&mut de)).ok()
            });
            let mut values = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
            let tree = Req::deserialize(GoValue(&values.next().unwrap().unwrap())).unwrap();
            if let Some(fast) = fast {
                assert_eq!(fast, tree, "{}", String::from_utf8_lossy(body));
            }
            assert_eq!(req(body), tree);
        }
    }

    #[test]
    fn unknown_keys_are_ignored_and_wrong_types_refused() {
        assert_eq!(req(br#"{"zzz":[1,2],"s":"x"}"#).s, "x");
        assert!(from_slice::<Req>(br#"{"Count":"1"}"#).is_err());
        assert!(from_slice::<Req>(br#"{"Count":1.5}"#).is_err());
        assert!(from_slice::<Req>(b"[1]").is_err());
        let m: HashMap<String, i64> = from_slice(br#"{"a":1,"A":2}"#).unwrap();
        assert_eq!(m.len(), 2, "map keys are not folded");
    }
}
