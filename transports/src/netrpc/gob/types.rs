//! Gob's type descriptions: the ids of the built-in types, the table of
//! types a stream has defined (read from its `wireType` messages), and
//! the definitions an encoder sends for the shapes it writes.

use std::collections::HashMap;

use super::GobError;
use super::wire::{Reader, put_int, put_uint};

pub(crate) type TypeId = i64;

pub(crate) const BOOL: TypeId = 1;
pub(crate) const INT: TypeId = 2;
pub(crate) const UINT: TypeId = 3;
pub(crate) const FLOAT: TypeId = 4;
pub(crate) const BYTES: TypeId = 5;
pub(crate) const STRING: TypeId = 6;
pub(crate) const COMPLEX: TypeId = 7;
pub(crate) const INTERFACE: TypeId = 8;
/// The first id an encoder grants (Go's `firstUserId` is 64; its first
/// user type gets 65).
const FIRST_USER: TypeId = 65;

/// The most types one stream may define: a real service defines a few
/// dozen; the cap bounds what a hostile stream can make a server keep.
const MAX_TYPES: usize = 4096;

/// A composite type a stream defined.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WireType {
    Array {
        elem: TypeId,
        len: usize,
    },
    Slice {
        elem: TypeId,
    },
    Struct {
        name: String,
        fields: Vec<(String, TypeId)>,
    },
    Map {
        key: TypeId,
        elem: TypeId,
    },
    /// A `GobEncoder`/`BinaryMarshaler`/`TextMarshaler` type: its bytes
    /// mean what the Go type says, so it cannot be mapped.
    Opaque {
        name: String,
    },
}

/// The types one stream has defined, by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct TypeTable {
    types: HashMap<TypeId, WireType>,
}

impl TypeTable {
    pub(crate) fn get(&self, id: TypeId) -> Result<&WireType, GobError> {
        self.types
            .get(&id)
            .ok_or_else(|| GobError::Malformed(format!("type id {id} was never defined")))
    }

    /// Reads a definition message's `wireType` (after its negated id).
    pub(crate) fn define(&mut self, id: TypeId, r: &mut Reader<'_>) -> Result<(), GobError> {
        if id < FIRST_USER - 1 {
            return Err(GobError::Malformed(format!(
                "a definition of built-in type {id}"
            )));
        }
        if self.types.len() >= MAX_TYPES && !self.types.contains_key(&id) {
            return Err(GobError::Malformed(format!(
                "more than {MAX_TYPES} types on one stream"
            )));
        }
        let mut wire = None;
        fields(r, |index, r| {
            wire = Some(wire_type(index, r)?);
            Ok(())
        })?;
        let wire = wire.ok_or_else(|| GobError::Malformed("an empty type definition".into()))?;
        self.types.insert(id, wire);
        Ok(())
    }
}

/// One `wireType` of a type definition: its field `index` says which.
fn wire_type(index: u64, r: &mut Reader<'_>) -> Result<WireType, GobError> {
    Ok(match index {
        0 => {
            let (mut elem, mut len) = (0, 0);
            composite(r, |i, r| {
                match i {
                    1 => elem = r.int()?,
                    2 => len = usize::try_from(r.int()?).unwrap_or(usize::MAX),
                    _ => return Err(unknown_field("arrayType")),
                }
                Ok(())
            })?;
            WireType::Array { elem, len }
        }
        1 => {
            let mut elem = 0;
            composite(r, |i, r| match i {
                1 => {
                    elem = r.int()?;
                    Ok(())
                }
                _ => Err(unknown_field("sliceType")),
            })?;
            WireType::Slice { elem }
        }
        2 => struct_type(r)?,
        3 => {
            let (mut key, mut elem) = (0, 0);
            composite(r, |i, r| {
                match i {
                    1 => key = r.int()?,
                    2 => elem = r.int()?,
                    _ => return Err(unknown_field("mapType")),
                }
                Ok(())
            })?;
            WireType::Map { key, elem }
        }
        4..=6 => WireType::Opaque {
            name: composite(r, |_, _| Err(unknown_field("gobEncoderType")))?,
        },
        _ => return Err(unknown_field("wireType")),
    })
}

/// A `structType`: its name and its fields' names and types.
fn struct_type(r: &mut Reader<'_>) -> Result<WireType, GobError> {
    let mut struct_fields = Vec::new();
    let name = composite(r, |i, r| {
        if i != 1 {
            return Err(unknown_field("structType"));
        }
        for _ in 0..r.count()? {
            let (mut name, mut id) = (String::new(), 0);
            fields(r, |i, r| {
                match i {
                    0 => name = string(r)?,
                    1 => id = r.int()?,
                    _ => return Err(unknown_field("fieldType")),
                }
                Ok(())
            })?;
            struct_fields.push((name, id));
        }
        Ok(())
    })?;
    Ok(WireType::Struct {
        name,
        fields: struct_fields,
    })
}

fn unknown_field(of: &str) -> GobError {
    GobError::Malformed(format!("an unknown field in a {of}"))
}

pub(crate) fn string(r: &mut Reader<'_>) -> Result<String, GobError> {
    String::from_utf8(r.bytes()?.to_vec())
        .map_err(|_| GobError::Malformed("a type name that is not UTF-8".into()))
}

/// Reads a struct's fields, calling `each` with every field's index,
/// until the terminating zero delta.
pub(crate) fn fields(
    r: &mut Reader<'_>,
    mut each: impl FnMut(u64, &mut Reader<'_>) -> Result<(), GobError>,
) -> Result<(), GobError> {
    let mut index: u64 = 0;
    let mut first = true;
    loop {
        let delta = r.uint()?;
        if delta == 0 {
            return Ok(());
        }
        index = if first {
            delta - 1
        } else {
            index.saturating_add(delta)
        };
        first = false;
        each(index, r)?;
    }
}

/// Reads one of the `…Type` structs: its `CommonType` (field 0, whose
/// name it returns), then the rest through `rest` (indexes from 1).
fn composite(
    r: &mut Reader<'_>,
    mut rest: impl FnMut(u64, &mut Reader<'_>) -> Result<(), GobError>,
) -> Result<String, GobError> {
    let mut name = String::new();
    fields(r, |index, r| {
        if index == 0 {
            return fields(r, |i, r| {
                match i {
                    0 => name = string(r)?,
                    1 => {
                        r.int()?;
                    }
                    _ => return Err(unknown_field("CommonType")),
                }
                Ok(())
            });
        }
        rest(index, r)
    })?;
    Ok(name)
}

/// The type of a value an encoder writes, as far as the value shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Shape {
    Bool,
    Int,
    Uint,
    Float,
    Bytes,
    String,
    Slice(Box<Shape>),
    Map(Box<Shape>, Box<Shape>),
    Struct(&'static str, Vec<(&'static str, Shape)>),
    /// Nothing shows it: an absent option, or the element of an empty
    /// sequence.
    Unknown,
}

impl Shape {
    pub(crate) fn builtin(&self) -> Option<TypeId> {
        Some(match self {
            Shape::Bool => BOOL,
            Shape::Int | Shape::Unknown => INT,
            Shape::Uint => UINT,
            Shape::Float => FLOAT,
            Shape::Bytes => BYTES,
            Shape::String => STRING,
            _ => return None,
        })
    }

    /// Go's spelling of an unnamed type, which Go's encoder uses as the
    /// name of a struct field's slice or map type.
    fn go_string(&self) -> String {
        match self {
            Shape::Bool => "bool".into(),
            Shape::Int | Shape::Unknown => "int".into(),
            Shape::Uint => "uint".into(),
            Shape::Float => "float64".into(),
            Shape::Bytes => "[]uint8".into(),
            Shape::String => "string".into(),
            Shape::Slice(e) => format!("[]{}", e.go_string()),
            Shape::Map(k, v) => format!("map[{}]{}", k.go_string(), v.go_string()),
            Shape::Struct(name, _) => (*name).into(),
        }
    }
}

/// The types one encoder has defined on its stream.
#[derive(Debug)]
pub(crate) struct TypeRegistry {
    ids: HashMap<Shape, TypeId>,
    next: TypeId,
}

impl Default for TypeRegistry {
    fn default() -> TypeRegistry {
        TypeRegistry {
            ids: HashMap::new(),
            next: FIRST_USER,
        }
    }
}

impl TypeRegistry {
    /// The id of `shape`, appending to `out` (as framed messages) the
    /// definitions the stream has not seen yet, in Go's order: ids granted
    /// as Go grants them, definitions sent outermost first.
    pub(crate) fn id(&mut self, shape: &Shape, out: &mut Vec<u8>) -> TypeId {
        let mut fresh = Vec::new();
        let id = self.grant(shape, &mut fresh);
        self.send(shape, "", &mut fresh, out);
        id
    }

    fn take(&mut self, shape: &Shape, fresh: &mut Vec<TypeId>) -> TypeId {
        let id = self.next;
        self.next += 1;
        self.ids.insert(shape.clone(), id);
        fresh.push(id);
        id
    }

    fn grant(&mut self, shape: &Shape, fresh: &mut Vec<TypeId>) -> TypeId {
        if let Some(id) = shape.builtin() {
            return id;
        }
        if let Some(&id) = self.ids.get(shape) {
            return id;
        }
        match shape {
            // A struct takes its id before its fields'; a slice or a map
            // after its elements' (Go's order).
            Shape::Struct(_, fields) => {
                let id = self.take(shape, fresh);
                for (_, f) in fields {
                    self.grant(f, fresh);
                }
                id
            }
            Shape::Slice(e) => {
                self.grant(e, fresh);
                self.take(shape, fresh)
            }
            Shape::Map(k, v) => {
                self.grant(k, fresh);
                self.grant(v, fresh);
                self.take(shape, fresh)
            }
            _ => INT,
        }
    }

    fn send(&self, shape: &Shape, name: &str, fresh: &mut Vec<TypeId>, out: &mut Vec<u8>) {
        let Some(&id) = self.ids.get(shape) else {
            return;
        };
        let Some(at) = fresh.iter().position(|&f| f == id) else {
            return;
        };
        fresh.swap_remove(at);
        let mut msg = Vec::new();
        put_int(&mut msg, -id);
        let id_of = |s: &Shape| {
            s.builtin()
                .or_else(|| self.ids.get(s).copied())
                .unwrap_or(INT)
        };
        match shape {
            Shape::Struct(struct_name, fields) => {
                put_uint(&mut msg, 3); // StructT
                put_common(&mut msg, struct_name, id);
                if !fields.is_empty() {
                    put_uint(&mut msg, 1);
                    put_uint(&mut msg, fields.len() as u64);
                    for (field, f) in fields {
                        put_uint(&mut msg, 1);
                        super::wire::put_bytes(&mut msg, go_field_name(field).as_bytes());
                        put_uint(&mut msg, 1);
                        put_int(&mut msg, id_of(f));
                        put_uint(&mut msg, 0);
                    }
                }
                put_uint(&mut msg, 0);
            }
            Shape::Slice(e) => {
                put_uint(&mut msg, 2); // SliceT
                put_common(&mut msg, name, id);
                put_uint(&mut msg, 1);
                put_int(&mut msg, id_of(e));
                put_uint(&mut msg, 0);
            }
            Shape::Map(k, v) => {
                put_uint(&mut msg, 4); // MapT
                put_common(&mut msg, name, id);
                put_uint(&mut msg, 1);
                put_int(&mut msg, id_of(k));
                put_uint(&mut msg, 1);
                put_int(&mut msg, id_of(v));
                put_uint(&mut msg, 0);
            }
            _ => return,
        }
        put_uint(&mut msg, 0); // end of wireType
        super::wire::put_message(out, &msg);
        self.send_parts(shape, fresh, out);
    }

    /// The types `shape`'s fields, elements, keys and values use, each
    /// defined once, after `shape` itself.
    fn send_parts(&self, shape: &Shape, fresh: &mut Vec<TypeId>, out: &mut Vec<u8>) {
        match shape {
            Shape::Struct(_, fields) => {
                for (_, f) in fields {
                    // Go names a field's unnamed slice or map type by its
                    // spelling; elements and top-level types go unnamed.
                    let name = match f {
                        Shape::Slice(_) | Shape::Map(..) => f.go_string(),
                        _ => String::new(),
                    };
                    self.send(f, &name, fresh, out);
                }
            }
            Shape::Slice(e) => self.send(e, "", fresh, out),
            Shape::Map(k, v) => {
                self.send(k, "", fresh, out);
                self.send(v, "", fresh, out);
            }
            _ => {}
        }
    }
}

/// A definition's `CommonType`: its name (none for an unnamed type) and id.
fn put_common(msg: &mut Vec<u8>, name: &str, id: TypeId) {
    put_uint(msg, 1); // CommonType
    if name.is_empty() {
        put_uint(msg, 2);
    } else {
        put_uint(msg, 1);
        super::wire::put_bytes(msg, name.as_bytes());
        put_uint(msg, 1);
    }
    put_int(msg, id);
    put_uint(msg, 0);
}

/// A Rust field name as Go spells an exported field: `service_method` is
/// `ServiceMethod`; a name that starts upper-case is kept.
pub(crate) fn go_field_name(rust: &str) -> String {
    if rust.starts_with(|c: char| c.is_ascii_uppercase()) {
        return rust.to_owned();
    }
    let mut out = String::with_capacity(rust.len());
    let mut upper = true;
    for c in rust.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
