//! Raw HTTP/2 for the tests that play a peer by hand: frames and header
//! blocks of literal fields, written byte by byte as RFC 9113 and RFC 7541
//! lay them out.

/// Frame types and flags the tests use.
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// `RST_STREAM`.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
}

/// `END_STREAM` (DATA and HEADERS).
pub const END_STREAM: u8 = 0x1;
/// `END_HEADERS` (HEADERS).
pub const END_HEADERS: u8 = 0x4;

/// The client's connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Appends a frame: length, type, flags, stream, payload.
///
/// # Panics
///
/// If the payload is longer than a frame can say.
pub fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = u32::try_from(payload.len())
        .expect("a payload under 16 MiB")
        .to_be_bytes();
    out.extend_from_slice(&len[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// A header block of literal fields without indexing or Huffman coding.
///
/// # Panics
///
/// If a name or value is 127 bytes or longer (one length byte here).
pub fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let short = |s: &str| {
        u8::try_from(s.len())
            .ok()
            .filter(|&l| l < 127)
            .expect("a short field")
    };
    let mut b = Vec::new();
    for (n, v) in fields {
        // Literal, not indexed, with a new name.
        b.push(0);
        b.push(short(n));
        b.extend_from_slice(n.as_bytes());
        b.push(short(v));
        b.extend_from_slice(v.as_bytes());
    }
    b
}

/// The header block of a gRPC call to `path`, as clients send it.
pub fn grpc_request(path: &str) -> Vec<u8> {
    block(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "x"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ])
}

/// addsvc's `pb.Add/Sum(1, 2)` as a client sends it on `stream`: the
/// request's headers, then its one message with `END_STREAM`.
pub fn sum_call(out: &mut Vec<u8>, stream: u32) {
    frame(
        out,
        kind::HEADERS,
        END_HEADERS,
        stream,
        &grpc_request("/pb.Add/Sum"),
    );
    frame(
        out,
        kind::DATA,
        END_STREAM,
        stream,
        &[0, 0, 0, 0, 4, 0x08, 1, 0x10, 2],
    );
}
