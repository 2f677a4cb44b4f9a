//! A call's metadata: the custom header fields gRPC carries beside the
//! message (names in lower case), and Go kit's hooks that read and write
//! it.

use synkit_core::Context;

use super::{Code, Status};
use crate::h2::Field;

/// Header fields that belong to gRPC or HTTP/2 itself, never metadata.
const RESERVED: &[&str] = &[
    "content-type",
    "te",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "content-length",
];

/// Key-value pairs sent with a call or its answer (Go's `metadata.MD`).
///
/// ```
/// use synkit_transports::grpc::Metadata;
///
/// let mut md = Metadata::new();
/// md.insert("X-Request-Id", "42");
/// assert_eq!(md.get("x-request-id"), Some("42"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    pairs: Vec<(Field, Field)>,
}

impl Metadata {
    /// No pairs.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// The first value of `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// Adds `name: value` (the name lower-cased, as HTTP/2 requires).
    /// Reserved names (`content-type`, `grpc-*` fields gRPC sets itself)
    /// are ignored.
    pub fn insert(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        if !is_reserved(&name) && !name.starts_with(':') {
            self.pairs.push((name.into(), value.to_owned().into()));
        }
    }

    /// Sets `name` to `value` alone, replacing what it had.
    pub fn set(&mut self, name: &str, value: &str) {
        self.pairs.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.insert(name, value);
    }

    /// Every pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// A request's fields as metadata, in place: the reserved ones dropped.
    pub(crate) fn from_pairs(mut pairs: Vec<(Field, Field)>) -> Metadata {
        pairs.retain(|(n, _)| !is_reserved(n) && !n.starts_with(':'));
        Metadata { pairs }
    }

    pub(crate) fn into_pairs(self) -> Vec<(Field, Field)> {
        self.pairs
    }
}

fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

/// The metadata of the call being served, from inside an endpoint or a
/// hook: the server puts it into the context.
pub fn metadata<'a>(cx: &Context<'a>) -> Option<&'a Metadata> {
    cx.value::<Metadata>()
}

/// Go kit's `ServerBefore`: sees (and may change) the request's metadata
/// before the endpoint runs.
pub(crate) type ServerBefore = Box<dyn Fn(&Context<'_>, &mut Metadata) + Send + Sync>;
/// Go kit's `ServerAfter`: sets the answer's header and trailer metadata
/// after a successful call.
pub(crate) type ServerAfter = Box<dyn Fn(&Context<'_>, &mut Metadata, &mut Metadata) + Send + Sync>;
/// Go kit's `ServerErrorHandler`: told of every failed call.
pub(crate) type ErrorHandler = Box<dyn Fn(&Context<'_>, &Status) + Send + Sync>;
/// Go kit's `ServerFinalizer`: told how every call ended (method, code).
pub(crate) type Finalizer = Box<dyn Fn(&Context<'_>, &str, Code) + Send + Sync>;
/// Go kit's `ClientBefore`: writes the request's metadata.
pub(crate) type ClientBefore = Box<dyn Fn(&Context<'_>, &mut Metadata) + Send + Sync>;
/// Go kit's `ClientAfter`: reads the answer's header and trailer metadata.
pub(crate) type ClientAfter = Box<dyn Fn(&Context<'_>, &Metadata, &Metadata) + Send + Sync>;
