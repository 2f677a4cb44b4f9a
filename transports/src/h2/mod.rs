//! HTTP/2 over cleartext with prior knowledge (h2c, RFC 9113): frames
//! (`frame`), HPACK (`hpack`), the peer's SETTINGS (`settings`) and the
//! rules of a well-formed head (`fields`) under one sans-IO connection
//! core both ends share (`conn`), with the server's role on the engine
//! (`server`). Every breach of the RFC gets the connection or stream error
//! it prescribes. What rides on HTTP/2 lives above it and is not named
//! here.

pub(crate) mod conn;
pub(crate) mod fields;
pub(crate) mod frame;
pub(crate) mod hpack;
pub(crate) mod server;
pub(crate) mod settings;
mod tables;

pub use frame::ErrorCode;

/// A request as HTTP/2 carried it.
#[derive(Debug, Default)]
pub struct Request {
    /// `:method`.
    pub method: Field,
    /// `:scheme`.
    pub scheme: Field,
    /// `:path`.
    pub path: String,
    /// `:authority`, when the request has one and the protocol above
    /// keeps it.
    pub authority: Option<Field>,
    /// The other fields, names in lower case, in order. The names and
    /// values the protocol above says are common are constants, not
    /// copies.
    pub headers: Vec<(Field, Field)>,
    /// The DATA frames' bytes.
    pub body: Vec<u8>,
    /// The body passed the server's limit: it was dropped and the request
    /// handed over at once, for the service to refuse.
    pub over_limit: bool,
}

impl Request {
    /// The first field named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// A header field's name or value: usually a constant, owned when not.
pub type Field = std::borrow::Cow<'static, str>;

/// A list of header fields: a constant one (`Cow::Borrowed`, no
/// allocation) or built for the answer.
pub type Fields = std::borrow::Cow<'static, [(Field, Field)]>;

/// A response to write: headers, body, trailers. With an empty body and
/// trailers given, the trailers go in the one HEADERS frame (a
/// "trailers-only" response).
#[derive(Debug, Default)]
pub struct Response {
    /// `:status`.
    pub status: u16,
    /// Fields sent before the body.
    pub headers: Fields,
    /// The body.
    pub body: Vec<u8>,
    /// Fields sent after the body.
    pub trailers: Fields,
}

/// A request and, once served, its response.
#[derive(Debug, Default)]
pub struct Exchange {
    /// What came in.
    pub request: Request,
    /// What goes out.
    pub response: Response,
}
