//! HPACK (RFC 7541), our own: a decoder with the static and dynamic tables,
//! size updates and Huffman strings (decoded with the canonical code's
//! first-code-per-length tables, no map lookups), and a stateless encoder:
//! every field a literal "without indexing", its name indexed when the
//! static table has it. The encoder costs a few bytes a response and keeps
//! no dynamic table whose size the peer must track.

use std::collections::VecDeque;
use std::sync::OnceLock;

use super::tables::{HUFFMAN, STATIC_TABLE};

/// Why a header block does not decode: each is the connection's
/// `COMPRESSION_ERROR`, since the peer's table and ours may now differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The block ends inside an integer or a string.
    Truncated,
    /// An integer past what 32 bits hold.
    Integer,
    /// A Huffman string that is not one: a code too long, EOS, or bad
    /// padding.
    Huffman,
    /// Index 0, or one past the dynamic table.
    Index(usize),
    /// A table size update after a field, or over what we allow.
    TableSize,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("a block that ends inside a field"),
            DecodeError::Integer => f.write_str("an integer out of range"),
            DecodeError::Huffman => f.write_str("a bad Huffman string"),
            DecodeError::Index(i) => write!(f, "index {i} past the table"),
            DecodeError::TableSize => f.write_str("a bad table size update"),
        }
    }
}

/// A decoded header block's size, as RFC 9113 §6.5.2 counts it (each
/// field's name and value and 32 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListSize {
    /// Every field was handed over; this many bytes.
    Within(usize),
    /// The list passed the limit: the fields past it were decoded (the
    /// table must stay in step) but not handed over.
    Over,
}

/// Static table names (RFC 7541 Appendix A) a response uses.
const STATIC_NAMES: &[(&[u8], usize)] = &[
    (b":status", 8),
    (b"content-length", 28),
    (b"content-type", 31),
    (b"date", 33),
    (b"server", 54),
];

fn put_int(out: &mut Vec<u8>, first: u8, prefix_bits: u8, value: usize) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.push(first | value.to_le_bytes()[0]);
        return;
    }
    out.push(first | max.to_le_bytes()[0]);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128).to_le_bytes()[0] | 0x80);
        rest /= 128;
    }
    out.push(rest.to_le_bytes()[0]);
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_int(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// Appends `name: value` as a literal field without indexing.
pub(crate) fn encode_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    if let Some((_, index)) = STATIC_NAMES.iter().find(|(n, _)| *n == name) {
        put_int(out, 0x00, 4, *index);
    } else {
        out.push(0x00);
        put_string(out, name);
    }
    put_string(out, value);
}

/// The canonical Huffman code, arranged for decoding: for each length,
/// the first code, how many codes, and where its symbols start.
struct Huffman {
    first: [u32; 31],
    count: [u32; 31],
    offset: [usize; 31],
    symbols: Vec<u16>,
}

fn huffman() -> &'static Huffman {
    static TABLE: OnceLock<Huffman> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut by_length: Vec<(u8, u32, u16)> = HUFFMAN
            .iter()
            .enumerate()
            .map(|(sym, &(code, len))| (len, code, u16::try_from(sym).unwrap_or(256)))
            .collect();
        by_length.sort_unstable();
        let mut h = Huffman {
            first: [0; 31],
            count: [0; 31],
            offset: [0; 31],
            symbols: by_length.iter().map(|e| e.2).collect(),
        };
        for (i, &(len, code, _)) in by_length.iter().enumerate().rev() {
            let l = usize::from(len);
            h.first[l] = code;
            h.offset[l] = i;
            h.count[l] += 1;
        }
        h
    })
}

/// Decodes a Huffman-coded string (RFC 7541 §5.2).
fn huffman_decode(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let h = huffman();
    let (mut code, mut len) = (0u32, 0usize);
    for &byte in bytes {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            if len > 30 {
                return Err(DecodeError::Huffman);
            }
            if h.count[len] > 0 && code >= h.first[len] && code - h.first[len] < h.count[len] {
                let sym = h.symbols[h.offset[len] + (code - h.first[len]) as usize];
                if sym == 256 {
                    return Err(DecodeError::Huffman);
                }
                out.push(u8::try_from(sym).unwrap_or(0));
                code = 0;
                len = 0;
            }
        }
    }
    // Padding: at most 7 bits, all ones (the EOS code's prefix).
    if len > 7 || code != (1 << len) - 1 {
        return Err(DecodeError::Huffman);
    }
    Ok(())
}

/// Reads an integer with an `n`-bit prefix (RFC 7541 §5.1).
fn get_int(block: &[u8], pos: &mut usize, n: u8) -> Result<usize, DecodeError> {
    let first = *block.get(*pos).ok_or(DecodeError::Truncated)?;
    *pos += 1;
    let max = (1usize << n) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Ok(value);
    }
    for shift in (0..).step_by(7).take(5) {
        let b = *block.get(*pos).ok_or(DecodeError::Truncated)?;
        *pos += 1;
        value = value
            .checked_add(usize::from(b & 0x7f) << shift)
            .ok_or(DecodeError::Integer)?;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::Integer)
}

/// Reads a string literal (RFC 7541 §5.2) into `out`.
fn get_string(block: &[u8], pos: &mut usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let huffman_coded = block.get(*pos).is_some_and(|b| b & 0x80 != 0);
    let len = get_int(block, pos, 7)?;
    let end = pos
        .checked_add(len)
        .filter(|&e| e <= block.len())
        .ok_or(DecodeError::Truncated)?;
    let bytes = &block[*pos..end];
    *pos = end;
    out.clear();
    if huffman_coded {
        huffman_decode(bytes, out)
    } else {
        out.extend_from_slice(bytes);
        Ok(())
    }
}

/// One connection's decoding state: the peer's dynamic table.
#[derive(Debug)]
pub(crate) struct BlockDecoder {
    entries: VecDeque<(Vec<u8>, Vec<u8>)>,
    size: usize,
    max: usize,
    /// What our `SETTINGS_HEADER_TABLE_SIZE` allows the peer.
    allowed: usize,
    /// A literal field's name and value, decoded here: kept between
    /// blocks, so a block of literals allocates nothing.
    name: Vec<u8>,
    value: Vec<u8>,
}

impl BlockDecoder {
    /// A decoder allowing the peer a dynamic table of `table_size` bytes.
    pub(crate) fn new(table_size: usize) -> BlockDecoder {
        BlockDecoder {
            entries: VecDeque::new(),
            size: 0,
            max: table_size,
            allowed: table_size,
            name: Vec::new(),
            value: Vec::new(),
        }
    }

    fn evict(&mut self) {
        while self.size > self.max {
            let Some((n, v)) = self.entries.pop_back() else {
                break;
            };
            self.size -= n.len() + v.len() + 32;
        }
    }

    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let size = name.len() + value.len() + 32;
        if size > self.max {
            // Too big for the table: it empties it (§4.4).
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.size += size;
        self.entries.push_front((name, value));
        self.evict();
    }

    fn field(&self, index: usize) -> Result<(&[u8], &[u8]), DecodeError> {
        match index {
            0 => Err(DecodeError::Index(0)),
            1..=61 => {
                let (n, v) = STATIC_TABLE[index - 1];
                Ok((n, v))
            }
            _ => self
                .entries
                .get(index - 62)
                .map(|(n, v)| (n.as_slice(), v.as_slice()))
                .ok_or(DecodeError::Index(index)),
        }
    }

    /// Decodes a whole header block, calling `field` for each field while
    /// the decoded list stays within `limit` bytes. Past it, decoding goes
    /// on (the table must stay in step) without copying a field anywhere,
    /// so a block of a few kilobytes that names one large table entry
    /// thousands of times costs its decoding, not its decoded size.
    pub(crate) fn decode(
        &mut self,
        block: &[u8],
        limit: usize,
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<ListSize, DecodeError> {
        let (mut name, mut value) = (
            std::mem::take(&mut self.name),
            std::mem::take(&mut self.value),
        );
        let mut size = 0usize;
        let mut sized = |n: &[u8], v: &[u8]| {
            size = size.saturating_add(n.len() + v.len() + 32);
            if size <= limit {
                field(n, v);
            }
        };
        let decoded = self.decode_into(block, &mut sized, &mut name, &mut value);
        (self.name, self.value) = (name, value);
        decoded?;
        Ok(if size <= limit {
            ListSize::Within(size)
        } else {
            ListSize::Over
        })
    }

    fn decode_into(
        &mut self,
        block: &[u8],
        field: &mut impl FnMut(&[u8], &[u8]),
        name: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<(), DecodeError> {
        let mut pos = 0;
        let mut fields = 0;
        while pos < block.len() {
            let b = block[pos];
            if b & 0x80 != 0 {
                let index = get_int(block, &mut pos, 7)?;
                let (n, v) = self.field(index)?;
                field(n, v);
            } else if b & 0xe0 == 0x20 {
                // A dynamic table size update: only before the fields.
                if fields > 0 {
                    return Err(DecodeError::TableSize);
                }
                let max = get_int(block, &mut pos, 5)?;
                if max > self.allowed {
                    return Err(DecodeError::TableSize);
                }
                self.max = max;
                self.evict();
                continue;
            } else {
                let indexing = b & 0xc0 == 0x40;
                let index = get_int(block, &mut pos, if indexing { 6 } else { 4 })?;
                if index == 0 {
                    get_string(block, &mut pos, name)?;
                } else {
                    name.clear();
                    name.extend_from_slice(self.field(index)?.0);
                }
                get_string(block, &mut pos, value)?;
                field(name, value);
                if indexing {
                    self.insert(name.clone(), value.clone());
                }
            }
            fields += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every header block of every story of the hpack-test-case subset in
    /// `testdata/`, decoded in order with one decoder per story, gives the
    /// story's fields.
    #[test]
    fn the_hpack_test_case_corpus_decodes() {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/hpack-test-case");
        let mut stories = 0;
        let mut blocks = 0;
        for encoder in ["nghttp2", "nghttp2-change-table-size", "python-hpack"] {
            for n in 0..20 {
                let path = root.join(encoder).join(format!("story_{n:02}.json"));
                let text = std::fs::read_to_string(&path).unwrap();
                let story: serde_json::Value = serde_json::from_str(&text).unwrap();
                let mut dec = BlockDecoder::new(4096);
                for case in story["cases"].as_array().unwrap() {
                    let wire = hex(case["wire"].as_str().unwrap());
                    let mut got = Vec::new();
                    dec.decode(&wire, usize::MAX, |n, v| {
                        got.push((
                            String::from_utf8(n.to_vec()).unwrap(),
                            String::from_utf8(v.to_vec()).unwrap(),
                        ));
                    })
                    .unwrap_or_else(|e| panic!("{}: case {}: {e}", path.display(), case["seqno"]));
                    let want: Vec<(String, String)> = case["headers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|h| h.as_object().unwrap().iter())
                        .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
                        .collect();
                    assert_eq!(got, want, "{}: case {}", path.display(), case["seqno"]);
                    blocks += 1;
                }
                stories += 1;
            }
        }
        assert_eq!(stories, 60);
        assert_eq!(blocks, 555, "every block of the subset");
    }

    #[test]
    fn our_blocks_decode_and_rfc_examples_decode() {
        let mut block = Vec::new();
        encode_field(&mut block, b":status", b"200");
        encode_field(&mut block, b"content-type", b"application/json");
        encode_field(&mut block, b"x-checksum", b"0");
        encode_field(&mut block, b"x-long", &[b'a'; 300]);
        let mut got = Vec::new();
        BlockDecoder::new(4096)
            .decode(&block, usize::MAX, |n, v| {
                got.push((n.to_vec(), v.to_vec()));
            })
            .unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], (b":status".to_vec(), b"200".to_vec()));
        assert_eq!(got[2], (b"x-checksum".to_vec(), b"0".to_vec()));
        assert_eq!(got[3].1.len(), 300);
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The fields `block` (in hex) decodes to, as `name: value`.
    fn fields_of(dec: &mut BlockDecoder, block: &str) -> Vec<String> {
        let mut all = Vec::new();
        dec.decode(&hex(block), usize::MAX, |n, v| {
            all.push(format!(
                "{}: {}",
                String::from_utf8_lossy(n),
                String::from_utf8_lossy(v)
            ));
        })
        .unwrap();
        all
    }

    #[test]
    fn rfc_7541_requests_decode() {
        // RFC 7541 C.4.1-C.4.3: requests with Huffman coding and the
        // dynamic table, on one decoder.
        let mut dec = BlockDecoder::new(4096);
        let mut fields = |block: &str| fields_of(&mut dec, block);
        assert_eq!(
            fields("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
            [
                ":method: GET",
                ":scheme: http",
                ":path: /",
                ":authority: www.example.com"
            ]
        );
        assert_eq!(
            fields("8286 84be 5886 a8eb 1064 9cbf"),
            [
                ":method: GET",
                ":scheme: http",
                ":path: /",
                ":authority: www.example.com",
                "cache-control: no-cache"
            ]
        );
        assert_eq!(
            fields("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
            [
                ":method: GET",
                ":scheme: https",
                ":path: /index.html",
                ":authority: www.example.com",
                "custom-key: custom-value"
            ]
        );
    }

    #[test]
    fn rfc_7541_responses_decode_with_eviction() {
        // RFC 7541 C.6: responses with Huffman coding and a 256-byte
        // table, so entries are evicted.
        let mut dec = BlockDecoder::new(256);
        let mut fields = |block: &str| fields_of(&mut dec, block);
        let date1 = "date: Mon, 21 Oct 2013 20:13:21 GMT";
        assert_eq!(
            fields(
                "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"
            ),
            [
                ":status: 302",
                "cache-control: private",
                date1,
                "location: https://www.example.com"
            ]
        );
        assert_eq!(
            fields("4883 640e ffc1 c0bf"),
            [
                ":status: 307",
                "cache-control: private",
                date1,
                "location: https://www.example.com"
            ]
        );
        assert_eq!(
            fields(
                "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"
            ),
            [
                ":status: 200",
                "cache-control: private",
                "date: Mon, 21 Oct 2013 20:13:22 GMT",
                "location: https://www.example.com",
                "content-encoding: gzip",
                "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ]
        );
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        // Random blocks: errors or fields, never a panic; the table stays
        // within its size.
        let mut dec = BlockDecoder::new(256);
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            let block: Vec<u8> = (0..24)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x.to_le_bytes()[5]
                })
                .collect();
            let _ = dec.decode(&block, usize::MAX, |_, _| {});
            assert!(dec.size <= dec.max && dec.max <= 256);
        }
        // Garbage is an error, not a panic.
        for bad in [
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
            &[0x80],
            &[0x40, 0x85, 0xff],
            &[0xbf],
        ] {
            assert!(
                BlockDecoder::new(4096)
                    .decode(bad, usize::MAX, |_, _| {})
                    .is_err(),
                "{bad:?}"
            );
        }
    }
}
