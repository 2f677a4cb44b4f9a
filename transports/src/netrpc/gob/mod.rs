//! Go's `encoding/gob`, for the subset net/rpc services use: booleans,
//! integers, floats, strings, byte slices, structs, slices, arrays (read)
//! and maps, through serde.
//!
//! A gob stream is self-describing: before the first value of a composite
//! type the encoder sends the type's definition (a `wireType`), once per
//! stream, under an id of its own. So a stream has state on both sides:
//! a [`Decoder`] keeps the types the peer defined, an [`Encoder`] the ones
//! it did. Fields match by name: a Rust field `service_method` is Go's
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
pub enum GobError {
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
            GobError::Mismatch(why) => write!(f, "gob: type mismatch in decoder: {why}"),
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
            depth: 0,
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

/// Go's `gob.Encoder`: writes values to one stream, each composite type
/// defined before its first value.
///
/// ```
/// use synkit_transports::netrpc::gob::{Decoder, Encoder};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct SumRequest { a: i64, b: i64 }  // Go: struct{ A, B int }
///
/// let mut stream = Vec::new();
/// let mut enc = Encoder::new();
/// enc.encode(&SumRequest { a: 1, b: 2 }, &mut stream)?;
/// enc.encode(&SumRequest { a: 3, b: 4 }, &mut stream)?;
///
/// let mut dec = Decoder::new();
/// let (first, used) = dec.decode::<SumRequest>(&stream)?.unwrap();
/// assert_eq!(first, SumRequest { a: 1, b: 2 });
/// let (second, _) = dec.decode::<SumRequest>(&stream[used..])?.unwrap();
/// assert_eq!(second, SumRequest { a: 3, b: 4 });
/// # Ok::<(), synkit_transports::netrpc::gob::GobError>(())
/// ```
#[derive(Debug, Default)]
pub struct Encoder {
    out: StreamOut,
}

impl Encoder {
    /// An encoder for a new stream.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Appends `value` to `out`, after any type definitions it needs.
    pub fn encode<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), GobError> {
        self.out.write(value, out)
    }
}

/// Go's `gob.Decoder`: reads the values of one stream, keeping the types
/// it defines.
#[derive(Debug, Default)]
pub struct Decoder {
    input: StreamIn,
}

impl Decoder {
    /// A decoder for a new stream.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Reads the next value from the start of `input` (type definitions
    /// before it are kept): the value and the bytes used, or `None` if
    /// `input` ends before the value does.
    pub fn decode<T: DeserializeOwned>(
        &mut self,
        input: &[u8],
    ) -> Result<Option<(T, usize)>, GobError> {
        let mut used = 0;
        loop {
            let Some((start, end)) = next_message(&input[used..])? else {
                return Ok(None);
            };
            let value = self.input.read(&input[used + start..used + end])?;
            used += end;
            if let Some(value) = value {
                return Ok(Some((value.decode()?, used)));
            }
        }
    }
}

#[cfg(test)]
mod tests;
