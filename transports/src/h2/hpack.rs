//! Header blocks. Decoding is `loona-hpack`'s (Huffman, the dynamic
//! table, size updates); encoding is ours and keeps no state: every field
//! is a literal "without indexing", its name indexed when the static
//! table has it. That costs a few bytes a response and means our side
//! never has a dynamic table whose size the peer must track.

use loona_hpack::Decoder;

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

/// One connection's decoding state.
pub(crate) struct BlockDecoder {
    inner: Decoder<'static>,
}

impl BlockDecoder {
    /// A decoder allowing the peer a dynamic table of `table_size` bytes
    /// (what our `SETTINGS_HEADER_TABLE_SIZE` says).
    pub(crate) fn new(table_size: usize) -> BlockDecoder {
        let mut inner = Decoder::new();
        inner.set_max_allowed_table_size(table_size);
        BlockDecoder { inner }
    }

    /// Decodes a whole header block, calling `field` for each field; false
    /// stops early, with the rest still decoded (the table must stay in
    /// step). An error is the connection's `COMPRESSION_ERROR`.
    pub(crate) fn decode(
        &mut self,
        block: &[u8],
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), String> {
        self.inner
            .decode_with_cb(block, |name, value| field(&name, &value))
            .map_err(|e| format!("{e:?}"))
    }
}

impl std::fmt::Debug for BlockDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockDecoder").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_blocks_decode_and_rfc_examples_decode() {
        let mut block = Vec::new();
        encode_field(&mut block, b":status", b"200");
        encode_field(&mut block, b"content-type", b"application/grpc");
        encode_field(&mut block, b"grpc-status", b"0");
        encode_field(&mut block, b"x-long", &[b'a'; 300]);
        let mut got = Vec::new();
        BlockDecoder::new(4096)
            .decode(&block, |n, v| got.push((n.to_vec(), v.to_vec())))
            .unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], (b":status".to_vec(), b"200".to_vec()));
        assert_eq!(got[2], (b"grpc-status".to_vec(), b"0".to_vec()));
        assert_eq!(got[3].1.len(), 300);
        // RFC 7541 C.4.1-C.4.3: requests with Huffman coding and the
        // dynamic table, on one decoder.
        let hex = |s: &str| -> Vec<u8> {
            let s: String = s.split_whitespace().collect();
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let mut dec = BlockDecoder::new(4096);
        let mut fields = |block: &str| {
            let mut all = Vec::new();
            dec.decode(&hex(block), |n, v| {
                all.push(format!(
                    "{}: {}",
                    String::from_utf8_lossy(n),
                    String::from_utf8_lossy(v)
                ));
            })
            .unwrap();
            all
        };
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
        // Garbage is an error, not a panic.
        for bad in [
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
            &[0x80],
            &[0x40, 0x85, 0xff],
            &[0xbf],
        ] {
            assert!(
                BlockDecoder::new(4096).decode(bad, |_, _| {}).is_err(),
                "{bad:?}"
            );
        }
    }
}
