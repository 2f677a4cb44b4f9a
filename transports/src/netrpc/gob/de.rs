//! Decoding: a value message read through serde, driven by the types the
//! stream defined. A struct is presented as a map of its fields, by the
//! Rust names they match (`ServiceMethod` fills `service_method`), with
//! the fields Go left out (zero) presented as zero values, so a Rust
//! struct needs no defaults; an absent field fills an `Option` with
//! `None`.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::GobError;
use super::types::{
    BOOL, BYTES, COMPLEX, FLOAT, INT, INTERFACE, STRING, TypeId, TypeTable, UINT, WireType,
    go_field_name,
};
use super::wire::Reader;

/// Reads one value of type `id` from `r`.
pub(crate) struct ValueDe<'t, 'a, 'r> {
    pub(crate) table: &'t TypeTable,
    pub(crate) id: TypeId,
    pub(crate) r: &'r mut Reader<'a>,
    /// How deep in the value this is: bounded, so a value nested a million
    /// deep (a recursive type makes that a few bytes a level) is an error,
    /// not a stack overflow.
    pub(crate) depth: usize,
}

/// How deep values may nest before the message is refused.
const MAX_DEPTH: usize = 64;

impl<'t, 'a, 'r> ValueDe<'t, 'a, 'r> {
    /// A value of type `id` inside one at `depth`.
    fn child(table: &'t TypeTable, id: TypeId, r: &'r mut Reader<'a>, depth: usize) -> Self {
        ValueDe {
            table,
            id,
            r,
            depth: depth + 1,
        }
    }
}

impl<'de, 't, 'a: 'de> ValueDe<'t, 'a, '_> {
    fn composite(&self) -> Result<&'t WireType, GobError> {
        self.table.get(self.id)
    }

    fn visit_struct<V: Visitor<'de>>(
        self,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GobError> {
        let WireType::Struct { fields, .. } = self.composite()? else {
            return Err(GobError::Mismatch(format!(
                "type {} is not a struct",
                self.id
            )));
        };
        visitor.visit_map(StructAccess {
            table: self.table,
            depth: self.depth,
            fields,
            names,
            r: self.r,
            index: None,
            seen: vec![false; fields.len()],
            zeros_from: None,
        })
    }
}

fn rust_name<'n>(wire: &'n str, names: &'static [&'static str]) -> &'n str {
    names
        .iter()
        .find(|n| **n == wire)
        .or_else(|| names.iter().find(|n| go_field_name(n) == wire))
        .copied()
        .unwrap_or(wire)
}

impl<'de, 'a: 'de> de::Deserializer<'de> for ValueDe<'_, 'a, '_> {
    type Error = GobError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        if self.depth > MAX_DEPTH {
            return Err(GobError::Malformed("values nested too deep".into()));
        }
        match self.id {
            BOOL => visitor.visit_bool(self.r.uint()? != 0),
            INT => visitor.visit_i64(self.r.int()?),
            UINT => visitor.visit_u64(self.r.uint()?),
            FLOAT => visitor.visit_f64(self.r.float()?),
            BYTES => visitor.visit_borrowed_bytes(self.r.bytes()?),
            STRING => {
                let bytes = self.r.bytes()?;
                match std::str::from_utf8(bytes) {
                    Ok(s) => visitor.visit_borrowed_str(s),
                    Err(_) => visitor.visit_borrowed_bytes(bytes),
                }
            }
            COMPLEX => Err(GobError::Unsupported("complex numbers".into())),
            INTERFACE => Err(GobError::Unsupported("interface values".into())),
            _ => match self.composite()? {
                WireType::Slice { elem } | WireType::Array { elem, .. } => {
                    let n = self.r.count()?;
                    self.seq(*elem, n, visitor)
                }
                WireType::Map { key, elem } => {
                    let n = self.r.count()?;
                    visitor.visit_map(MapEntries {
                        table: self.table,
                        depth: self.depth,
                        key: *key,
                        elem: *elem,
                        left: n,
                        r: self.r,
                    })
                }
                WireType::Struct { .. } => self.visit_struct(&[], visitor),
                WireType::Opaque { name } => Err(GobError::Unsupported(format!(
                    "type {name}, which encodes itself"
                ))),
            },
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        if self.id == BYTES {
            // []byte into a Vec<u8> that is not serde_bytes.
            let bytes = self.r.bytes()?;
            return visitor.visit_seq(de::value::SeqDeserializer::new(bytes.iter().copied()));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GobError> {
        if self.depth > MAX_DEPTH {
            return Err(GobError::Malformed("values nested too deep".into()));
        }
        if !matches!(self.table.get(self.id), Ok(WireType::Struct { .. })) {
            // Go's words for it.
            return Err(GobError::Mismatch(format!(
                "want struct type {name}; got non-struct"
            )));
        }
        self.visit_struct(names, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, GobError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GobError> {
        if self.id != STRING {
            return Err(GobError::Mismatch(
                "an enum from something not a string".into(),
            ));
        }
        let s = std::str::from_utf8(self.r.bytes()?)
            .map_err(|_| GobError::Malformed("a string that is not UTF-8".into()))?;
        visitor.visit_enum(s.into_deserializer())
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        skip(self.table, self.id, self.r, 0)?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct map identifier
    }
}

impl<'de, 'a: 'de> ValueDe<'_, 'a, '_> {
    fn seq<V: Visitor<'de>>(
        self,
        elem: TypeId,
        n: usize,
        visitor: V,
    ) -> Result<V::Value, GobError> {
        visitor.visit_seq(Elements {
            table: self.table,
            depth: self.depth,
            elem,
            left: n,
            r: self.r,
        })
    }
}

/// Moves past one value of type `id`.
fn skip(table: &TypeTable, id: TypeId, r: &mut Reader<'_>, depth: usize) -> Result<(), GobError> {
    if depth > MAX_DEPTH {
        return Err(GobError::Malformed("values nested too deep".into()));
    }
    match id {
        BOOL | INT | UINT | FLOAT => {
            r.uint()?;
        }
        BYTES | STRING => {
            r.bytes()?;
        }
        COMPLEX => {
            r.uint()?;
            r.uint()?;
        }
        INTERFACE => return Err(GobError::Unsupported("interface values".into())),
        _ => match table.get(id)? {
            WireType::Slice { elem } | WireType::Array { elem, .. } => {
                for _ in 0..r.count()? {
                    skip(table, *elem, r, depth + 1)?;
                }
            }
            WireType::Map { key, elem } => {
                for _ in 0..r.count()? {
                    skip(table, *key, r, depth + 1)?;
                    skip(table, *elem, r, depth + 1)?;
                }
            }
            WireType::Struct { fields, .. } => {
                super::types::fields(r, |i, r| {
                    let (_, f) = fields
                        .get(usize::try_from(i).unwrap_or(usize::MAX))
                        .ok_or_else(|| {
                            GobError::Malformed("a field past the struct's last".into())
                        })?;
                    skip(table, *f, r, depth + 1)
                })?;
            }
            WireType::Opaque { .. } => {
                r.bytes()?;
            }
        },
    }
    Ok(())
}

struct Elements<'t, 'a, 'r> {
    table: &'t TypeTable,
    depth: usize,
    elem: TypeId,
    left: usize,
    r: &'r mut Reader<'a>,
}

impl<'de, 'a: 'de> SeqAccess<'de> for Elements<'_, 'a, '_> {
    type Error = GobError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GobError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(ValueDe::child(self.table, self.elem, self.r, self.depth))
            .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct MapEntries<'t, 'a, 'r> {
    table: &'t TypeTable,
    depth: usize,
    key: TypeId,
    elem: TypeId,
    left: usize,
    r: &'r mut Reader<'a>,
}

impl<'de, 'a: 'de> MapAccess<'de> for MapEntries<'_, 'a, '_> {
    type Error = GobError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GobError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(ValueDe::child(self.table, self.key, self.r, self.depth))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GobError> {
        seed.deserialize(ValueDe::child(self.table, self.elem, self.r, self.depth))
    }
}

/// A struct's fields: those sent, then the zero ones Go left out.
struct StructAccess<'t, 'a, 'r> {
    table: &'t TypeTable,
    depth: usize,
    fields: &'t [(String, TypeId)],
    names: &'static [&'static str],
    r: &'r mut Reader<'a>,
    index: Option<usize>,
    seen: Vec<bool>,
    /// Once the terminator is read: the next field to present as zero.
    zeros_from: Option<usize>,
}

impl<'de, 'a: 'de> MapAccess<'de> for StructAccess<'_, 'a, '_> {
    type Error = GobError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GobError> {
        if self.zeros_from.is_none() {
            let delta = usize::try_from(self.r.uint()?).unwrap_or(usize::MAX);
            if delta != 0 {
                let at = match self.index {
                    None => delta - 1,
                    Some(i) => i.saturating_add(delta),
                };
                if at >= self.fields.len() || self.seen[at] {
                    return Err(GobError::Malformed("a field past the struct's last".into()));
                }
                self.index = Some(at);
                self.seen[at] = true;
                let name = rust_name(&self.fields[at].0, self.names);
                return seed.deserialize(name.into_deserializer()).map(Some);
            }
            self.zeros_from = Some(0);
        }
        let from = self.zeros_from.unwrap_or(0);
        let Some(at) = (from..self.fields.len()).find(|&i| !self.seen[i]) else {
            return Ok(None);
        };
        self.zeros_from = Some(at + 1);
        self.index = Some(at);
        let name = rust_name(&self.fields[at].0, self.names);
        seed.deserialize(name.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GobError> {
        let at = self.index.unwrap_or(0);
        let id = self.fields.get(at).map_or(INT, |f| f.1);
        if self.zeros_from.is_some() {
            return seed.deserialize(Zero {
                table: self.table,
                id,
                depth: self.depth + 1,
            });
        }
        seed.deserialize(ValueDe::child(self.table, id, self.r, self.depth))
    }
}

/// The zero value of a type, for a field Go did not send.
struct Zero<'t> {
    table: &'t TypeTable,
    id: TypeId,
    depth: usize,
}

impl<'de> de::Deserializer<'de> for Zero<'_> {
    type Error = GobError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        match self.id {
            BOOL => visitor.visit_bool(false),
            INT => visitor.visit_i64(0),
            UINT => visitor.visit_u64(0),
            FLOAT => visitor.visit_f64(0.0),
            BYTES => visitor.visit_bytes(&[]),
            STRING => visitor.visit_str(""),
            _ => match self.table.get(self.id) {
                Ok(WireType::Slice { .. } | WireType::Array { .. }) => visitor.visit_seq(
                    de::value::SeqDeserializer::<_, GobError>::new(std::iter::empty::<()>()),
                ),
                Ok(WireType::Map { .. }) => {
                    visitor.visit_map(de::value::MapDeserializer::<_, GobError>::new(
                        std::iter::empty::<((), ())>(),
                    ))
                }
                Ok(WireType::Struct { fields, .. }) if self.depth < MAX_DEPTH => {
                    let depth = self.depth + 1;
                    let table = self.table;
                    visitor.visit_map(de::value::MapDeserializer::new(fields.iter().map(
                        move |(name, id)| {
                            (
                                name.as_str(),
                                Zero {
                                    table,
                                    id: *id,
                                    depth,
                                },
                            )
                        },
                    )))
                }
                _ => visitor.visit_unit(),
            },
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        visitor.visit_none()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, GobError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GobError> {
        // Empty, whatever the element: `[]byte` into a `Vec<u8>` too.
        visitor.visit_seq(de::value::SeqDeserializer::<_, GobError>::new(
            std::iter::empty::<()>(),
        ))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GobError> {
        match self.table.get(self.id) {
            Ok(WireType::Struct { fields, .. }) if self.depth < MAX_DEPTH => {
                let depth = self.depth + 1;
                let table = self.table;
                visitor.visit_map(de::value::MapDeserializer::new(fields.iter().map(
                    move |(name, id)| {
                        (
                            rust_name(name, names),
                            Zero {
                                table,
                                id: *id,
                                depth,
                            },
                        )
                    },
                )))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct  tuple tuple_struct
        map enum identifier ignored_any
    }
}

impl IntoDeserializer<'_, GobError> for Zero<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}
