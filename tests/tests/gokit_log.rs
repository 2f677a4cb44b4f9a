//! synkit's logfmt and JSON records against Go kit's own loggers
//! (`log.NewLogfmtLogger`, `log.NewJSONLogger` from Debian's Go kit 0.10):
//! the same key-values, byte for byte.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use log::kv::Value;
use serde_json::json;
use synkit_core::log::{Format, GoDuration, Logger};
use synkit_tests::gokit::binary;

/// One value, both as the Go peer reads it and as synkit logs it.
#[derive(Clone)]
enum V {
    S(&'static str),
    I(i64),
    F(f64),
    B(bool),
    Nil,
    D(u64),
    E(&'static str),
}

impl V {
    fn go(&self) -> serde_json::Value {
        match self {
            V::S(s) => json!({ "s": s }),
            V::I(n) => json!({ "i": n }),
            V::F(x) => json!({ "f": x }),
            V::B(b) => json!({ "b": b }),
            V::Nil => json!({ "nil": true }),
            V::D(n) => json!({ "d": n }),
            V::E(s) => json!({ "e": s }),
        }
    }
}

fn records() -> Vec<Vec<(&'static str, V)>> {
    let strings = [
        "hello",
        "",
        "null",
        "a b",
        "a=b",
        "say \"hi\"",
        "new\nline",
        "tab\there",
        "bell\u{7}",
        "straße",
        "😀",
        "back\\slash",
        "<&>",
        "line\u{2028}sep",
        "\u{fffd}",
        "nul\u{0}",
        "Null",
        "-",
        "a\rb",
    ];
    let mut all: Vec<Vec<(&str, V)>> = strings
        .iter()
        .map(|s| {
            vec![
                ("method", V::S("uppercase")),
                ("input", V::S(s)),
                ("output", V::S(s)),
            ]
        })
        .collect();
    // stringsvc2's lines, success and failure.
    all.push(vec![
        ("method", V::S("uppercase")),
        ("input", V::S("hello")),
        ("output", V::S("HELLO")),
        ("err", V::Nil),
        ("took", V::D(1_234)),
    ]);
    all.push(vec![
        ("method", V::S("uppercase")),
        ("input", V::S("")),
        ("output", V::S("")),
        ("err", V::E("empty string")),
        ("took", V::D(300)),
    ]);
    all.push(vec![
        ("method", V::S("count")),
        ("input", V::S("hello, world")),
        ("n", V::I(12)),
    ]);
    all.push(vec![
        ("i", V::I(-5)),
        ("max", V::I(i64::MAX)),
        ("f", V::F(1.5)),
        ("g", V::F(0.25)),
        ("h", V::F(100.0)),
        ("t", V::B(true)),
        ("u", V::B(false)),
    ]);
    all.push(
        [
            0,
            1,
            999,
            1_000,
            1_500,
            1_234_567,
            1_000_000_000,
            1_500_000_000,
            90_000_000_000,
            3_600_000_000_000,
        ]
        .into_iter()
        .map(|n| ("took", V::D(n)))
        .collect(),
    );
    // Keys with characters logfmt cannot hold; a key repeated.
    all.push(vec![
        ("a b", V::I(1)),
        ("c=d", V::I(2)),
        ("e\"f", V::I(3)),
        ("dup", V::I(1)),
        ("dup", V::I(2)),
    ]);
    all
}

fn ours(record: &[(&'static str, V)], format: Format) -> String {
    let durations: Vec<GoDuration> = record
        .iter()
        .map(|(_, v)| match v {
            V::D(n) => GoDuration(Duration::from_nanos(*n)),
            _ => GoDuration(Duration::ZERO),
        })
        .collect();
    let kvs: Vec<(&str, Value<'_>)> = record
        .iter()
        .zip(&durations)
        .map(|((k, v), d)| {
            let value = match v {
                V::S(s) | V::E(s) => Value::from(*s),
                V::I(n) => Value::from(*n),
                V::F(x) => Value::from(*x),
                V::B(b) => Value::from(*b),
                V::Nil => Value::null(),
                V::D(_) => Value::from_display(d),
            };
            (*k, value)
        })
        .collect();
    let pairs = kvs.as_slice();
    let record = log::Record::builder()
        .args(format_args!(""))
        .key_values(&pairs)
        .build();
    Logger::new(format).format(&record)
}

#[test]
fn logfmt_and_json_lines_match_go_kits_loggers() {
    let records = records();
    let input: Vec<Vec<(String, serde_json::Value)>> = records
        .iter()
        .map(|r| r.iter().map(|(k, v)| ((*k).to_owned(), v.go())).collect())
        .collect();
    let mut child = Command::new(binary("kitlog"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the Go kit logger");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let go = String::from_utf8(out.stdout).unwrap();
    let go_lines: Vec<&str> = go.split_inclusive('\n').collect();
    assert_eq!(go_lines.len(), records.len() * 2);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(
            ours(record, Format::Logfmt),
            go_lines[2 * i],
            "logfmt, record {i}"
        );
        assert_eq!(
            ours(record, Format::Json),
            go_lines[2 * i + 1],
            "JSON, record {i}"
        );
    }
}
