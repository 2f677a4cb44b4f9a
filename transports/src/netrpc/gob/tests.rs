//! Streams as Go 1.19's `encoding/gob` writes them (each from a fresh
//! Encoder in a fresh process; `tests/tests/gob_interop.rs` checks the
//! whole set against the Go toolchain on the machine).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn encode_all<T: Serialize>(values: &[T]) -> Vec<u8> {
    let mut out = StreamOut::default();
    let mut bytes = Vec::new();
    for v in values {
        out.write(v, &mut bytes).unwrap();
    }
    bytes
}

fn decode_all<T: DeserializeOwned>(mut bytes: &[u8]) -> Vec<T> {
    let mut stream = StreamIn::default();
    let mut values = Vec::new();
    while !bytes.is_empty() {
        let (start, end) = next_message(bytes).unwrap().unwrap();
        if let Some(v) = stream.read(&bytes[start..end]).unwrap() {
            values.push(v.decode().unwrap());
        }
        bytes = &bytes[end..];
    }
    values
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(rename = "SumRequest")]
struct SumRequest {
    a: i64,
    b: i64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(rename = "ConcatResponse")]
struct ConcatResponse {
    v: String,
    err: String,
}

const SUM_TWICE: &str = "24ff810301010a53756d5265717565737401ff82000102010141010400010142010400000007ff82010201040007ff820106010800";

#[test]
fn singletons_match_gos_bytes_both_ways() {
    let cases: [(i64, &str); 4] = [
        (7, "0304000e"),
        (0, "03040000"),
        (-1, "03040001"),
        (i64::MIN, "0b0400f8ffffffffffffffff"),
    ];
    for (v, go) in cases {
        assert_eq!(encode_all(&[v]), hex(go), "{v}");
        assert_eq!(decode_all::<i64>(&hex(go)), [v]);
    }
    assert_eq!(encode_all(&[u64::MAX]), hex("0b0600f8ffffffffffffffff"));
    assert_eq!(encode_all(&["hello"]), hex("080c000568656c6c6f"));
    assert_eq!(encode_all(&[true]), hex("03020001"));
    assert_eq!(encode_all(&[-17.25]), hex("060800fd4031c0"));
    assert_eq!(decode_all::<String>(&hex("030c0000")), [""]);
    assert_eq!(
        decode_all::<Vec<u8>>(&hex("060a0003010203")),
        [vec![1, 2, 3]]
    );
}

#[test]
fn structs_define_their_type_once_and_leave_zero_fields_out() {
    let twice = [SumRequest { a: 1, b: 2 }, SumRequest { a: 3, b: 4 }];
    assert_eq!(encode_all(&twice), hex(SUM_TWICE));
    assert_eq!(decode_all::<SumRequest>(&hex(SUM_TWICE)), twice);
    let zero_a =
        "24ff810301010a53756d5265717565737401ff82000102010141010400010142010400000005ff82020a00";
    assert_eq!(encode_all(&[SumRequest { a: 0, b: 5 }]), hex(zero_a));
    assert_eq!(
        decode_all::<SumRequest>(&hex(zero_a)),
        [SumRequest { a: 0, b: 5 }]
    );
    let concat = "2aff830301010e436f6e636174526573706f6e736501ff84000102010156010c000103457272010c00000007ff840102616200";
    let concat = concat.replace("ff83", "ff81").replace("ff84", "ff82");
    let v = ConcatResponse {
        v: "ab".into(),
        err: String::new(),
    };
    assert_eq!(encode_all(&[&v]), hex(&concat));
    assert_eq!(decode_all::<ConcatResponse>(&hex(&concat)), [v]);
}

#[test]
fn slices_and_maps_match_gos_bytes() {
    let ints = "0cff81020102ff82000104000007ff820003020406";
    assert_eq!(encode_all(&[vec![1i64, 2, 3]]), hex(ints));
    assert_eq!(decode_all::<Vec<i64>>(&hex(ints)), [vec![1, 2, 3]]);
    let strings = "0cff81020102ff8200010c000007ff820002016100";
    assert_eq!(encode_all(&[vec!["a", ""]]), hex(strings));
    let map = "0eff81040102ff8200010c0104000007ff820001016102";
    let m: BTreeMap<String, i64> = [("a".to_owned(), 1)].into();
    assert_eq!(encode_all(&[&m]), hex(map));
    assert_eq!(decode_all::<BTreeMap<String, i64>>(&hex(map)), [m]);
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(rename = "Request")]
struct Request {
    service_method: String,
    seq: u64,
}

#[test]
fn a_net_rpc_call_stream_reads_as_go_writes_it() {
    let go = hex(
        "2fff81030101075265717565737401ff82000102010d536572766963654d6574686f64010c00010353657101060000000fff82010a6164647376632e53756d0024ff830301010a53756d5265717565737401ff84000102010141010400010142010400000007ff84010201040011ff82010a6164647376632e53756d01010007ff840106010800",
    );
    let mut out = StreamOut::default();
    let mut ours = Vec::new();
    for (seq, a) in [(0u64, 1i64), (1, 3)] {
        out.write(
            &Request {
                service_method: "addsvc.Sum".into(),
                seq,
            },
            &mut ours,
        )
        .unwrap();
        out.write(&SumRequest { a, b: a + 1 }, &mut ours).unwrap();
    }
    assert_eq!(ours, go);
}

#[test]
fn fields_go_leaves_out_read_as_zero_or_none() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Wider {
        a: i64,
        b: Option<i64>,
        missing: Option<String>,
    }
    // SumRequest{A: 0, B: 5}: A is not sent.
    let zero_a =
        "24ff810301010a53756d5265717565737401ff82000102010141010400010142010400000005ff82020a00";
    assert_eq!(
        decode_all::<Wider>(&hex(zero_a)),
        [Wider {
            a: 0,
            b: Some(5),
            missing: None
        }]
    );
}

#[test]
fn garbage_is_an_error_never_a_panic() {
    let good = hex(SUM_TWICE);
    // Every truncation and every single-byte corruption of a real stream.
    for cut in 0..good.len() {
        let mut stream = StreamIn::default();
        let mut bytes = &good[..cut];
        while let Ok(Some((s, e))) = next_message(bytes) {
            if let Ok(Some(v)) = stream.read(&bytes[s..e]) {
                let _ = v.decode::<SumRequest>();
            }
            bytes = &bytes[e..];
        }
    }
    for at in 0..good.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[at] ^= flip;
            let mut stream = StreamIn::default();
            let mut bytes = &bad[..];
            while let Ok(Some((s, e))) = next_message(bytes) {
                match stream.read(&bytes[s..e]) {
                    Ok(Some(v)) => {
                        let _ = v.decode::<SumRequest>();
                        let _ = v.decode::<serde::de::IgnoredAny>();
                    }
                    Ok(None) => {}
                    Err(_) => break,
                }
                bytes = &bytes[e..];
            }
        }
    }
}

#[test]
fn a_unit_goes_as_gos_empty_struct() {
    // net/rpc's body for a failed call: struct{}{}.
    assert_eq!(encode_all(&[()]), hex("0aff81030102ff8200000003ff8200"));
}

#[test]
fn a_value_nested_past_any_reason_is_an_error_not_a_stack_overflow() {
    // type 65 = []65 (a recursive slice), then a value 100 000 levels deep.
    let mut def = Vec::new();
    wire::put_int(&mut def, -65);
    def.extend_from_slice(&[0x02, 0x01, 0x02]);
    wire::put_int(&mut def, 65);
    def.extend_from_slice(&[0x00, 0x01]);
    wire::put_int(&mut def, 65);
    def.extend_from_slice(&[0x00, 0x00]);
    let mut value = Vec::new();
    wire::put_int(&mut value, 65);
    value.push(0);
    value.extend(std::iter::repeat_n(1u8, 100_000));
    value.push(0);
    let mut stream = Vec::new();
    wire::put_message(&mut stream, &def);
    wire::put_message(&mut stream, &value);
    let mut dec = Decoder::new();
    assert!(matches!(
        dec.decode::<serde_json::Value>(&stream),
        Err(GobError::Malformed(_))
    ));
    let mut dec = Decoder::new();
    assert!(dec.decode::<serde::de::IgnoredAny>(&stream).is_err());
    // Sixty levels are fine.
    let mut shallow = Vec::new();
    wire::put_int(&mut shallow, 65);
    shallow.push(0);
    shallow.extend(std::iter::repeat_n(1u8, 60));
    shallow.push(0);
    let mut stream = Vec::new();
    wire::put_message(&mut stream, &def);
    wire::put_message(&mut stream, &shallow);
    assert!(
        Decoder::new()
            .decode::<serde_json::Value>(&stream)
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_stream_cannot_define_types_without_end() {
    let mut stream = Vec::new();
    for id in 65..65 + 5000 {
        let mut def = Vec::new();
        wire::put_int(&mut def, -id);
        def.extend_from_slice(&[0x02, 0x01, 0x02]);
        wire::put_int(&mut def, id);
        def.extend_from_slice(&[0x00, 0x01, 0x04, 0x00, 0x00]);
        wire::put_message(&mut stream, &def);
    }
    let mut input = StreamIn::default();
    let mut bytes = &stream[..];
    let mut defined = 0;
    while let Ok(Some((s, e))) = next_message(bytes) {
        if input.read(&bytes[s..e]).is_err() {
            break;
        }
        defined += 1;
        bytes = &bytes[e..];
    }
    assert_eq!(defined, 4096);
}
