//! synkit's gob codec against Go's own `encoding/gob` (the `gobcases`
//! peer): every case Go encodes, we encode to the same bytes and decode to
//! the same values; where our bytes must differ (Go names a struct field's
//! slice of a named type after its package, `[]main.Inner`, which a Rust
//! type cannot know), Go's decoder reads ours to the same value.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize, Serializer};
use synkit_tests::gokit::binary;
use synkit_transports::netrpc::gob::{Decoder, Encoder};

fn go(args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new(binary("gobcases"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the gobcases peer");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "gobcases {args:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn go_bytes(case: &str) -> Vec<u8> {
    let hex = go(&["-case", case], b"");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// `[]byte`: gob's own type, written with `serialize_bytes`.
#[derive(Debug, PartialEq, Deserialize, Default)]
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SumRequest {
    a: i64,
    b: i64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct ConcatResponse {
    v: String,
    err: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize, Default)]
struct Inner {
    x: f64,
    ok: bool,
}

#[derive(Debug, PartialEq, Serialize, Deserialize, Default)]
struct Outer {
    name: String,
    inner: Inner,
    tags: Vec<String>,
    counts: Option<BTreeMap<String, i64>>,
    size: u64,
    raw: Bytes,
    ptr: Option<i64>,
    items: Vec<Inner>,
    small: i8,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Request {
    service_method: String,
    seq: u64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Response {
    service_method: String,
    seq: u64,
    error: String,
}

fn outer() -> Outer {
    Outer {
        name: "n".into(),
        inner: Inner { x: 2.5, ok: true },
        tags: vec!["x".into(), "y".into()],
        counts: Some([("k".to_owned(), -3)].into()),
        size: 1 << 40,
        raw: Bytes(b"raw".to_vec()),
        ptr: Some(7),
        items: vec![Inner { x: 1.0, ok: false }, Inner::default()],
        small: -2,
    }
}

/// Encodes each value on one stream.
macro_rules! ours {
    ($($v:expr),+) => {{
        let mut enc = Encoder::new();
        let mut out = Vec::new();
        $(enc.encode(&$v, &mut out).unwrap();)+
        out
    }};
}

/// Decodes the whole stream as values of `T`.
fn read_all<T: serde::de::DeserializeOwned>(mut bytes: &[u8]) -> Vec<T> {
    let mut dec = Decoder::new();
    let mut all = Vec::new();
    while !bytes.is_empty() {
        let (v, used) = dec.decode::<T>(bytes).unwrap().expect("a whole value");
        all.push(v);
        bytes = &bytes[used..];
    }
    all
}

#[test]
fn we_write_the_bytes_go_writes() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("int_7", ours!(7i64)),
        ("int_0", ours!(0i64)),
        ("int_neg1", ours!(-1i64)),
        ("int_300", ours!(300i64)),
        ("int_min", ours!(i64::MIN)),
        ("uint_256", ours!(256u64)),
        ("uint_max", ours!(u64::MAX)),
        ("string", ours!("hello")),
        ("string_empty", ours!("")),
        ("bool", ours!(true)),
        ("float_1_5", ours!(1.5f64)),
        ("float_neg", ours!(-17.25f64)),
        ("bytes", ours!(Bytes(vec![1, 2, 3]))),
        ("sum_request", ours!(SumRequest { a: 1, b: 2 })),
        ("sum_request_zero_a", ours!(SumRequest { a: 0, b: 5 })),
        (
            "sum_request_twice",
            ours!(SumRequest { a: 1, b: 2 }, SumRequest { a: 3, b: 4 }),
        ),
        (
            "concat_response",
            ours!(ConcatResponse {
                v: "ab".into(),
                err: String::new()
            }),
        ),
        ("ints", ours!(vec![1i64, 2, 3])),
        ("strings", ours!(vec!["a", ""])),
        ("map", ours!(BTreeMap::from([("a", 1i64)]))),
        (
            "rpc_call",
            ours!(
                Request {
                    service_method: "addsvc.Sum".into(),
                    seq: 0
                },
                SumRequest { a: 1, b: 2 },
                Request {
                    service_method: "addsvc.Sum".into(),
                    seq: 1
                },
                SumRequest { a: 3, b: 4 }
            ),
        ),
        (
            "rpc_answer",
            ours!(
                Response {
                    service_method: "addsvc.Sum".into(),
                    seq: 1,
                    error: String::new()
                },
                7i64,
                Response {
                    service_method: "addsvc.Sum".into(),
                    seq: 0,
                    error: "boom".into()
                },
                ()
            ),
        ),
    ];
    let all = go(&["-list"], b"");
    for (case, bytes) in &cases {
        assert!(all.lines().any(|l| l == *case), "{case} is not a Go case");
        assert_eq!(*bytes, go_bytes(case), "{case}");
    }
    // The two the list leaves to Go's decoder, below.
    assert_eq!(all.lines().count(), cases.len() + 2);
}

#[test]
fn gos_decoder_reads_what_go_names_differently() {
    for (case, value) in [("outer", outer()), ("outer_zero", Outer::default())] {
        let theirs = go(&["-decode", case], &go_bytes(case));
        let ours = go(&["-decode", case], &ours!(value));
        assert!(!theirs.contains("error"), "{theirs}");
        assert_eq!(ours, theirs, "{case}");
    }
}

#[test]
fn we_read_what_go_writes() {
    assert_eq!(read_all::<i64>(&go_bytes("int_min")), [i64::MIN]);
    assert_eq!(read_all::<i64>(&go_bytes("int_300")), [300]);
    assert_eq!(read_all::<u64>(&go_bytes("uint_max")), [u64::MAX]);
    assert_eq!(read_all::<String>(&go_bytes("string")), ["hello"]);
    assert_eq!(read_all::<bool>(&go_bytes("bool")), [true]);
    assert_eq!(read_all::<f64>(&go_bytes("float_neg")), [-17.25]);
    assert_eq!(
        read_all::<Bytes>(&go_bytes("bytes")),
        [Bytes(vec![1, 2, 3])]
    );
    assert_eq!(
        read_all::<SumRequest>(&go_bytes("sum_request_twice")),
        [SumRequest { a: 1, b: 2 }, SumRequest { a: 3, b: 4 }]
    );
    assert_eq!(
        read_all::<SumRequest>(&go_bytes("sum_request_zero_a")),
        [SumRequest { a: 0, b: 5 }]
    );
    assert_eq!(
        read_all::<Vec<String>>(&go_bytes("strings")),
        [vec!["a", ""]]
    );
    assert_eq!(
        read_all::<BTreeMap<String, i64>>(&go_bytes("map")),
        [BTreeMap::from([("a".to_owned(), 1)])]
    );
    assert_eq!(read_all::<Outer>(&go_bytes("outer")), [outer()]);
    assert_eq!(
        read_all::<Outer>(&go_bytes("outer_zero")),
        [Outer::default()]
    );
    // A net/rpc call stream: header, argument, header, argument.
    let stream = go_bytes("rpc_call");
    let mut dec = Decoder::new();
    let (h, n1) = dec.decode::<Request>(&stream).unwrap().unwrap();
    let (arg, n2) = dec.decode::<SumRequest>(&stream[n1..]).unwrap().unwrap();
    let (h2, n3) = dec.decode::<Request>(&stream[n1 + n2..]).unwrap().unwrap();
    let (arg2, n4) = dec
        .decode::<SumRequest>(&stream[n1 + n2 + n3..])
        .unwrap()
        .unwrap();
    assert_eq!(
        (h.service_method.as_str(), h.seq, h2.seq),
        ("addsvc.Sum", 0, 1)
    );
    assert_eq!(
        (arg, arg2),
        (SumRequest { a: 1, b: 2 }, SumRequest { a: 3, b: 4 })
    );
    assert_eq!(n1 + n2 + n3 + n4, stream.len());
    // Any prefix of it is "not yet", never an error or a wrong value.
    for cut in 0..n1 {
        assert!(
            Decoder::new()
                .decode::<Request>(&stream[..cut])
                .unwrap()
                .is_none()
        );
    }
}
