//! Go's `encoding/gob`, for the subset net/rpc services use: booleans,
//! integers, floats, strings, byte slices, structs, slices, arrays (read)
//! and maps, through serde.
//!
//! A gob stream is self-describing: before the first value of a composite
//! type the encoder sends the type's definition (a `wireType`), once per
//! stream, under an id of its own. So a stream has state on both sides:
//! [`StreamIn`] keeps the types the peer defined, [`StreamOut`] the ones
//! we did. Fields match by name: a Rust field `service_method` is Go's
//! `ServiceMethod` (Go sends only exported, capitalised fields); a field
//! Go leaves out because it is zero reads as zero, or `None`.
//!
//! What serde cannot show, gob needs: the element type of an empty
//! sequence. An empty sequence in a struct field is left out (as Go leaves
//! it out) together with its type; one at the top level is declared as a
//! sequence of `int`. Go's `int` and `uint` do not mix: a Rust field that
//! meets a Go `int` must be signed, one that meets a `uint` unsigned, and
//! a `[]byte` is a `serde_bytes` field. Interface values, complex numbers
//! and types that encode themselves (`GobEncoder`) are refused with a
//! clear error.

mod de;
mod ser;
mod types;
mod wire;

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) use ser::Node;
pub(crate) use wire::next_message;

use types::{TypeId, TypeRegistry, TypeTable, WireType};
use wire::Reader;

/// Why gob bytes could not be read or a value written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GobError {
    /// The message ended before the value did.
    Truncated,
    /// Bytes that are not gob.
    Malformed(String),
    /// A gob feature this codec does not map.
    Unsupported(String),
    /// The value sent is not of the type asked for.
    Mismatch(String),
    /// An error from the type being read or written.
    Custom(String),
}

impl fmt::Display for GobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GobError::Truncated => f.write_str("gob: a message that ends too soon"),
            GobError::Malformed(why) => write!(f, "gob: malformed: {why}"),
            GobError::Unsupported(what) => write!(f, "gob: not supported: {what}"),
            GobError::Mismatch(why) => write!(f, "gob: type mismatch: {why}"),
            GobError::Custom(why) => write!(f, "gob: {why}"),
        }
    }
}

impl std::error::Error for GobError {}

impl serde::de::Error for GobError {
    fn custom<T: fmt::Display>(msg: T) -> GobError {
        GobError::Custom(msg.to_string())
    }
}

impl serde::ser::Error for GobError {
    fn custom<T: fmt::Display>(msg: T) -> GobError {
        GobError::Custom(msg.to_string())
    }
}

/// A value message received, with the types it may refer to: decoded
/// later, on whichever thread serves it.
#[derive(Debug, Clone)]
pub(crate) struct Value {
    table: Arc<TypeTable>,
    id: TypeId,
    bytes: Vec<u8>,
}

impl Value {
    /// The value as a `T`.
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T, GobError> {
        let mut r = Reader::new(&self.bytes);
        let is_struct = matches!(self.table.get(self.id), Ok(WireType::Struct { .. }));
        if !is_struct && r.uint()? != 0 {
            return Err(GobError::Malformed(
                "a value that is neither a struct nor a singleton".into(),
            ));
        }
        T::deserialize(de::ValueDe {
            table: &self.table,
            id: self.id,
            r: &mut r,
        })
    }
}

/// The receiving half of a gob stream: the types the peer has defined.
#[derive(Debug, Default)]
pub(crate) struct StreamIn {
    table: Arc<TypeTable>,
}

impl StreamIn {
    /// Takes one message's payload: a type definition is kept (and `None`
    /// returned), a value is returned for decoding.
    pub(crate) fn read(&mut self, payload: &[u8]) -> Result<Option<Value>, GobError> {
        let mut r = Reader::new(payload);
        let id = r.int()?;
        if id < 0 {
            Arc::make_mut(&mut self.table).define(-id, &mut r)?;
            return Ok(None);
        }
        if id == 0 {
            return Err(GobError::Malformed("a value of type 0".into()));
        }
        if id > types::INTERFACE {
            self.table.get(id)?;
        }
        Ok(Some(Value {
            table: self.table.clone(),
            id,
            bytes: payload[r.pos..].to_vec(),
        }))
    }
}

/// The sending half of a gob stream: the types already defined on it.
#[derive(Debug, Default)]
pub(crate) struct StreamOut {
    registry: TypeRegistry,
}

impl StreamOut {
    /// Appends `value` to `out` as Go's `Encoder.Encode` would: any type
    /// definitions the stream lacks, then the value message.
    pub(crate) fn write<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), GobError> {
        self.write_node(&Node::from_value(value)?, out)
    }

    /// As [`StreamOut::write`], for a value already turned into a node.
    pub(crate) fn write_node(&mut self, node: &Node, out: &mut Vec<u8>) -> Result<(), GobError> {
        ser::write_value(&mut self.registry, node, out)
    }
}

#[cfg(test)]
mod tests;
