//! Encoding: a `Serialize` value becomes a [`Node`] tree, whose shape
//! decides its gob type; the registry defines the type on the stream and
//! the tree is written against it, zero fields left out as Go leaves them.

use serde::ser::{self, Serialize};

use super::GobError;
use super::types::{Shape, TypeRegistry};
use super::wire::{put_bytes, put_float, put_int, put_message, put_uint};

/// A value ready to be written as gob.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `bool`.
    Bool(bool),
    /// A signed integer (Go's `int`, `int64`, …).
    Int(i64),
    /// An unsigned integer (Go's `uint`, `uint64`, …).
    Uint(u64),
    /// A float (Go's `float64`, `float32`).
    Float(f64),
    /// `[]byte`.
    Bytes(Vec<u8>),
    /// `string`.
    String(String),
    /// A slice.
    Seq(Vec<Node>),
    /// A map, its entries in the order given.
    Map(Vec<(Node, Node)>),
    /// A struct: its name and its fields by Rust name.
    Struct(&'static str, Vec<(&'static str, Node)>),
    /// An absent option or a unit: nothing is sent.
    Nil,
}

impl Node {
    /// Turns a `Serialize` value into a node.
    pub(crate) fn from_value<T: Serialize + ?Sized>(value: &T) -> Result<Node, GobError> {
        value.serialize(NodeSerializer)
    }

    fn shape(&self) -> Result<Shape, GobError> {
        Ok(match self {
            Node::Bool(_) => Shape::Bool,
            Node::Int(_) => Shape::Int,
            Node::Uint(_) => Shape::Uint,
            Node::Float(_) => Shape::Float,
            Node::Bytes(_) => Shape::Bytes,
            Node::String(_) => Shape::String,
            Node::Nil => Shape::Unknown,
            Node::Seq(items) => {
                let mut elem = Shape::Unknown;
                for item in items {
                    merge(&mut elem, item.shape()?)?;
                }
                Shape::Slice(Box::new(elem))
            }
            Node::Map(entries) => {
                let (mut key, mut elem) = (Shape::Unknown, Shape::Unknown);
                for (k, v) in entries {
                    merge(&mut key, k.shape()?)?;
                    merge(&mut elem, v.shape()?)?;
                }
                Shape::Map(Box::new(key), Box::new(elem))
            }
            Node::Struct(name, fields) => Shape::Struct(
                name,
                fields
                    .iter()
                    .map(|(n, v)| Ok((*n, v.shape()?)))
                    .collect::<Result<_, GobError>>()?,
            ),
        })
    }

    /// Whether Go's encoder leaves this value out as a struct field.
    fn is_zero(&self) -> bool {
        match self {
            Node::Bool(b) => !b,
            Node::Int(i) => *i == 0,
            Node::Uint(u) => *u == 0,
            // Go's `x != 0`: -0.0 is zero too.
            Node::Float(f) => f.to_bits() << 1 == 0,
            Node::Bytes(b) => b.is_empty(),
            Node::String(s) => s.is_empty(),
            Node::Seq(items) => items.is_empty(),
            Node::Nil => true,
            Node::Map(_) | Node::Struct(..) => false,
        }
    }
}

/// Fills what `into` does not know from `from`; different known types
/// are an error (gob's slices and maps have one element type).
fn merge(into: &mut Shape, from: Shape) -> Result<(), GobError> {
    match (into, from) {
        (_, Shape::Unknown) => Ok(()),
        (into @ Shape::Unknown, from) => {
            *into = from;
            Ok(())
        }
        (Shape::Slice(a), Shape::Slice(b)) => merge(a, *b),
        (Shape::Map(ak, av), Shape::Map(bk, bv)) => {
            merge(ak, *bk)?;
            merge(av, *bv)
        }
        (Shape::Struct(an, af), Shape::Struct(bn, bf)) if *an == bn && af.len() == bf.len() => {
            for ((_, a), (_, b)) in af.iter_mut().zip(bf) {
                merge(a, b)?;
            }
            Ok(())
        }
        (a, b) if *a == b => Ok(()),
        (a, b) => Err(GobError::Unsupported(format!(
            "elements of one sequence with different types ({a:?} and {b:?})"
        ))),
    }
}

/// The shape as it is defined on the wire: struct fields nothing shows
/// the type of are left out of the type (and are zero in the value).
fn settle(shape: Shape) -> Shape {
    match shape {
        Shape::Struct(name, fields) => Shape::Struct(
            name,
            fields
                .into_iter()
                .filter(|(_, f)| *f != Shape::Unknown && !empty_of_unknown(f))
                .map(|(n, f)| (n, settle(f)))
                .collect(),
        ),
        Shape::Slice(e) => Shape::Slice(Box::new(settle(*e))),
        Shape::Map(k, v) => Shape::Map(Box::new(settle(*k)), Box::new(settle(*v))),
        other => other,
    }
}

/// A field that is an empty sequence or map: its value is left out, and
/// without an element type its type is too.
fn empty_of_unknown(shape: &Shape) -> bool {
    match shape {
        Shape::Slice(e) => **e == Shape::Unknown,
        Shape::Map(k, v) => **k == Shape::Unknown || **v == Shape::Unknown,
        _ => false,
    }
}

/// Writes `node` as one value message of the stream (after any type
/// definitions it needs), as Go's `Encoder.Encode` does.
pub(crate) fn write_value(
    registry: &mut TypeRegistry,
    node: &Node,
    out: &mut Vec<u8>,
) -> Result<(), GobError> {
    // Nothing at all (a unit) goes as Go's empty struct, as net/rpc sends
    // the body of a failed call.
    let empty = Node::Struct("", Vec::new());
    let node = if *node == Node::Nil { &empty } else { node };
    let shape = settle(node.shape()?);
    // The value first: if it cannot be written, no definition is sent.
    let mut body = Vec::new();
    encode(node, &shape, &mut body)?;
    let id = registry.id(&shape, out);
    let mut msg = Vec::with_capacity(body.len() + 4);
    put_int(&mut msg, id);
    if !matches!(shape, Shape::Struct(..)) {
        // A value that is not a struct goes as a struct's one field.
        put_uint(&mut msg, 0);
    }
    msg.extend_from_slice(&body);
    put_message(out, &msg);
    Ok(())
}

fn encode(node: &Node, shape: &Shape, out: &mut Vec<u8>) -> Result<(), GobError> {
    match (node, shape) {
        (Node::Bool(b), _) => put_uint(out, u64::from(*b)),
        (Node::Int(i), _) => put_int(out, *i),
        (Node::Uint(u), _) => put_uint(out, *u),
        (Node::Float(f), _) => put_float(out, *f),
        (Node::Bytes(b), _) => put_bytes(out, b),
        (Node::String(s), _) => put_bytes(out, s.as_bytes()),
        (Node::Seq(items), Shape::Slice(elem)) => {
            put_uint(out, items.len() as u64);
            for item in items {
                encode(item, elem, out)?;
            }
        }
        (Node::Map(entries), Shape::Map(key, elem)) => {
            put_uint(out, entries.len() as u64);
            for (k, v) in entries {
                encode(k, key, out)?;
                encode(v, elem, out)?;
            }
        }
        (Node::Struct(_, values), Shape::Struct(_, fields)) => {
            // Field numbers from 1, so the first delta is its number.
            let mut last = 0;
            for (number, (name, field)) in (1u64..).zip(fields.iter()) {
                let Some((_, value)) = values.iter().find(|(n, _)| n == name) else {
                    continue;
                };
                if value.is_zero() {
                    continue;
                }
                put_uint(out, number - last);
                last = number;
                encode(value, field, out)?;
            }
            put_uint(out, 0);
        }
        (Node::Nil, _) => {}
        (node, shape) => {
            return Err(GobError::Unsupported(format!(
                "a value of shape {shape:?} that is {node:?}"
            )));
        }
    }
    Ok(())
}

struct NodeSerializer;

fn unsupported(what: &str) -> GobError {
    GobError::Unsupported(format!("{what} has no gob encoding"))
}

impl ser::Serializer for NodeSerializer {
    type Ok = Node;
    type Error = GobError;
    type SerializeSeq = SeqNode;
    type SerializeTuple = SeqNode;
    type SerializeTupleStruct = SeqNode;
    type SerializeTupleVariant = ser::Impossible<Node, GobError>;
    type SerializeMap = MapNode;
    type SerializeStruct = StructNode;
    type SerializeStructVariant = ser::Impossible<Node, GobError>;

    fn serialize_bool(self, v: bool) -> Result<Node, GobError> {
        Ok(Node::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Node, GobError> {
        Ok(Node::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Node, GobError> {
        Ok(Node::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Node, GobError> {
        Ok(Node::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Node, GobError> {
        Ok(Node::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Node, GobError> {
        Ok(Node::Uint(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Node, GobError> {
        Ok(Node::Uint(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Node, GobError> {
        Ok(Node::Uint(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Node, GobError> {
        Ok(Node::Uint(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Node, GobError> {
        Ok(Node::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Node, GobError> {
        Ok(Node::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Node, GobError> {
        // Go's rune is an int32.
        Ok(Node::Int(i64::from(u32::from(v))))
    }
    fn serialize_str(self, v: &str) -> Result<Node, GobError> {
        Ok(Node::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Node, GobError> {
        Ok(Node::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Node, GobError> {
        Ok(Node::Nil)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Node, GobError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Node, GobError> {
        Ok(Node::Nil)
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Node, GobError> {
        Ok(Node::Struct(name, Vec::new()))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Node, GobError> {
        Ok(Node::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Node, GobError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Node, GobError> {
        Err(unsupported("an enum variant with data"))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqNode, GobError> {
        Ok(SeqNode(Vec::with_capacity(len.unwrap_or(0).min(1024))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqNode, GobError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqNode, GobError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, GobError> {
        Err(unsupported("an enum variant with data"))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapNode, GobError> {
        Ok(MapNode {
            entries: Vec::with_capacity(len.unwrap_or(0).min(1024)),
            key: None,
        })
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<StructNode, GobError> {
        Ok(StructNode(name, Vec::with_capacity(len)))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, GobError> {
        Err(unsupported("an enum variant with data"))
    }
}

/// A sequence being built.
pub(crate) struct SeqNode(Vec<Node>);

impl ser::SerializeSeq for SeqNode {
    type Ok = Node;
    type Error = GobError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), GobError> {
        self.0.push(v.serialize(NodeSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Node, GobError> {
        Ok(Node::Seq(self.0))
    }
}

impl ser::SerializeTuple for SeqNode {
    type Ok = Node;
    type Error = GobError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), GobError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Node, GobError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqNode {
    type Ok = Node;
    type Error = GobError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), GobError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Node, GobError> {
        ser::SerializeSeq::end(self)
    }
}

/// A map being built.
pub(crate) struct MapNode {
    entries: Vec<(Node, Node)>,
    key: Option<Node>,
}

impl ser::SerializeMap for MapNode {
    type Ok = Node;
    type Error = GobError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), GobError> {
        self.key = Some(k.serialize(NodeSerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), GobError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| unsupported("a map value without a key"))?;
        self.entries.push((key, v.serialize(NodeSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Node, GobError> {
        Ok(Node::Map(self.entries))
    }
}

/// A struct being built.
pub(crate) struct StructNode(&'static str, Vec<(&'static str, Node)>);

impl ser::SerializeStruct for StructNode {
    type Ok = Node;
    type Error = GobError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), GobError> {
        self.1.push((name, v.serialize(NodeSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Node, GobError> {
        Ok(Node::Struct(self.0, self.1))
    }
}
