//! synkit and real Go kit, in both directions: the same requests answered
//! byte for byte alike, synkit's client calling Go kit servers, and Go kit's
//! client calling synkit servers.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use synkit_core::{Context, Endpoint};
use synkit_examples::addsvc::Adder;
use synkit_examples::stringsvc::Strings;
use synkit_tests::gokit::{GoServer, kitcli, kitcli_with};
use synkit_tests::wire::exchange;
use synkit_transports::http::Method;
use synkit_transports::http::client::{
    Client, ClientError, decode_json_response, encode_json_request,
};
use synkit_transports::http::server::{Handle, Router, Server, ServerConfig};

fn synkit(router: Router) -> Handle {
    Server::new(router)
        .bind("127.0.0.1:0", &ServerConfig::default())
        .expect("bind")
}

/// Status and body of one request sent as raw bytes.
fn answer(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    answer_raw(addr, "POST", path, body.as_bytes())
}

/// Status and body of a request with any method and any body bytes.
fn answer_raw(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: peer\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    let got = exchange(addr, &raw, Duration::from_secs(5)).text();
    let (head, body) = got
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response: {got:?}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("\r\ntransfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (head[9..12].parse().unwrap(), body)
}

/// A chunked body's data (Go sends large responses chunked).
fn dechunk(mut wire: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = wire.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        wire = &rest[size + 2..];
    }
}

/// Where two answers first part, and a little of each from there.
fn first_difference(a: &str, b: &str) -> String {
    let at = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    let show = |s: &str| {
        s.get(at..)
            .unwrap_or("")
            .chars()
            .take(12)
            .collect::<String>()
    };
    format!("at byte {at}: {:?} vs {:?}", show(a), show(b))
}

fn assert_agree(ours: SocketAddr, theirs: SocketAddr, cases: &[(&str, &str)]) {
    for (path, body) in cases {
        let mine = answer(ours, path, body);
        let kit = answer(theirs, path, body);
        assert_eq!(
            mine, kit,
            "POST {path} {body}: synkit (left) and Go kit (right) differ"
        );
    }
}

#[test]
fn stringsvc_answers_byte_for_byte_like_go_kit() {
    let kit = GoServer::start("kitstringsvc");
    let ours = synkit(synkit_examples::stringsvc::transport::router(Strings));
    assert_agree(
        ours.local_addr(),
        kit.addr(),
        &[
            ("/uppercase", r#"{"s":"hello, world"}"#),
            ("/uppercase", r#"{"s":""}"#),
            ("/uppercase", r#"{"s":"<b>&amp;</b>"}"#),
            ("/uppercase", r#"{"s":"héllo wörld"}"#),
            ("/count", r#"{"s":"abc"}"#),
            ("/count", r#"{"s":"héllo"}"#),
            ("/count", r#"{"s":""}"#),
        ],
    );
    ours.shutdown(Duration::from_secs(1));
}

/// The Go kit parity corpus: methods, counts, case mapping, Go's JSON
/// decoding and escaping, each sent to synkit's stringsvc and to Go kit's
/// stringsvc1, which must answer with the same status and the same bytes.
#[test]
fn stringsvc_parity_corpus_matches_go_kit() {
    let kit = GoServer::start("kitstringsvc");
    let ours = synkit(synkit_examples::stringsvc::transport::router(Strings));
    let (ours_addr, kit_addr) = (ours.local_addr(), kit.addr());
    let same = |method: &str, path: &str, body: &[u8]| {
        let mine = answer_raw(ours_addr, method, path, body);
        let theirs = answer_raw(kit_addr, method, path, body);
        let request: String = String::from_utf8_lossy(body).chars().take(40).collect();
        assert!(
            mine == theirs,
            "{method} {path} {request}…: synkit {} and Go kit {} differ {}",
            mine.0,
            theirs.0,
            first_difference(&mine.1, &theirs.1)
        );
    };
    // Any method: Go kit binds its paths with http.Handle.
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        same(method, "/uppercase", br#"{"s":"any method"}"#);
        same(method, "/count", br#"{"s":"any method"}"#);
    }
    // Paths are matched percent-decoded, as Go's ServeMux matches URL.Path.
    same("POST", "/%63ount", br#"{"s":"escaped path"}"#);
    same("POST", "/%75ppercase", br#"{"s":"escaped path"}"#);
    // Counts are UTF-8 bytes (Go's len).
    for s in ["😀", "héllo", "日本語", r"a\u0000b", ""] {
        same("POST", "/count", format!(r#"{{"s":"{s}"}}"#).as_bytes());
    }
    // Go's simple case mapping, over every character of Unicode (JSON
    // escapes the control characters on the way in), in pieces of 16 384.
    // Left out: letters whose case partner Unicode added after version 13,
    // which Go 1.19 follows and Rust's tables (a later version) do not.
    let after_unicode_13 = |c: u32| {
        matches!(
            c,
            0x019B
                | 0x0264
                | 0x1C8A
                | 0x2C5F
                | 0xA7C1
                | 0xA7CD..=0xA7DB
                | 0x1_0597..=0x1_05BC
                | 0x1_0D70..=0x1_0D85
                | 0x1_6EBB..=0x1_6ED3
        )
    };
    for start in (0..0x11_0000).step_by(0x4000) {
        let text: String = (start..start + 0x4000)
            .filter(|&c| c != 0 && !after_unicode_13(c))
            .filter_map(char::from_u32)
            .collect();
        let body = serde_json::json!({ "s": text }).to_string();
        same("POST", "/uppercase", body.as_bytes());
    }
    for s in ["straße", "ǅungla", "ﬀ", "ᾳ", "ŉ", "İ"] {
        same("POST", "/uppercase", format!(r#"{{"s":"{s}"}}"#).as_bytes());
    }
    // Go's decoding: keys without regard to case, the last duplicate
    // wins, null and missing are zero, trailing data is ignored, invalid
    // UTF-8 becomes U+FFFD.
    let decoding: [&[u8]; 10] = [
        br#"{"S":"upper key"}"#,
        br#"{"s":"first","S":"second"}"#,
        br#"{"s":null}"#,
        b"{}",
        br#"{"other":1}"#,
        br#"{"s":"one"} {"s":"two"}"#,
        br#"{"s":"one"}garbage"#,
        b"{\"s\":\"bad \xff byte\"}",
        b"{\"s\":\"cut \xe2\x82\"}",
        br#"  {"s":"spaced"}  "#,
    ];
    for body in decoding {
        same("POST", "/uppercase", body);
        same("POST", "/count", body);
    }
    // Go's escaping of what comes out: control characters, HTML.
    for s in [r"\b\f\n\r\t", r"\u001f\u007f", "<&>", r"\u2028\u2029"] {
        same("POST", "/uppercase", format!(r#"{{"s":"{s}"}}"#).as_bytes());
    }
    ours.shutdown(Duration::from_secs(1));
}

/// Where synkit deliberately answers differently from Go kit: a body that
/// is not JSON. Go kit's default error encoder gives 500 and Go's parser
/// message as text; synkit gives 400, the client's fault, as JSON.
#[test]
fn malformed_json_is_400_json_here_and_500_text_in_go_kit() {
    let kit = GoServer::start("kitstringsvc");
    let ours = synkit(synkit_examples::stringsvc::transport::router(Strings));
    for body in [r#"{"s":"#, "not json", ""] {
        let (status, text) = answer(kit.addr(), "/uppercase", body);
        assert_eq!(status, 500, "Go kit: {text}");
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
        let (status, text) = answer(ours.local_addr(), "/uppercase", body);
        assert_eq!(status, 400, "synkit: {text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(json["error"].as_str().unwrap().starts_with("invalid JSON"));
    }
    ours.shutdown(Duration::from_secs(1));
}

/// Where synkit deliberately differs from Go's `ServeMux`: paths are not
/// cleaned. Go redirects `//count` (and `/./count`, `/x/../count`) to
/// `/count` with a 301; synkit's router matches what it is given and
/// answers 404, so a client that builds such paths finds out.
#[test]
fn unclean_paths_are_404_here_and_301_in_go() {
    let kit = GoServer::start("kitstringsvc");
    let ours = synkit(synkit_examples::stringsvc::transport::router(Strings));
    for path in ["//count", "/./count", "/x/../count"] {
        let (status, _) = answer(kit.addr(), path, r#"{"s":"x"}"#);
        assert_eq!(status, 301, "Go kit, {path}");
        let (status, text) = answer(ours.local_addr(), path, r#"{"s":"x"}"#);
        assert_eq!(status, 404, "synkit, {path}: {text}");
    }
    ours.shutdown(Duration::from_secs(1));
}

/// Go kit's stringsvc3 proxies `uppercase` with GET and a JSON body: a Go
/// kit proxy can use a synkit instance as it uses a Go kit one.
#[test]
fn go_kit_client_proxying_with_get_is_served() {
    let kit = GoServer::start("kitstringsvc");
    let ours = synkit(synkit_examples::stringsvc::transport::router(Strings));
    let expected = serde_json::json!({"status": 200, "body": {"v": "PROXIED"}});
    for addr in [ours.local_addr(), kit.addr()] {
        assert_eq!(
            kitcli_with("GET", addr, "uppercase", r#"{"s":"proxied"}"#),
            expected
        );
    }
    ours.shutdown(Duration::from_secs(1));
}

#[test]
fn addsvc_answers_byte_for_byte_like_go_kit() {
    let kit = GoServer::start("kitaddsvc");
    let ours = synkit(synkit_examples::addsvc::transport::router(Adder));
    assert_agree(
        ours.local_addr(),
        kit.addr(),
        &[
            ("/sum", r#"{"a":1,"b":2}"#),
            ("/sum", r#"{"A":-7,"B":3}"#),
            ("/sum", r#"{"a":0,"b":0}"#),
            ("/sum", r#"{"a":2147483647,"b":1}"#),
            ("/sum", r#"{"a":-2147483648,"b":-1}"#),
            ("/concat", r#"{"a":"1","b":"2"}"#),
            ("/concat", r#"{"a":"<&>","b":""}"#),
            ("/concat", r#"{"a":"123456","b":"789012"}"#),
            ("/sum", r#"{"a":5}"#),
            ("/sum", r#"{"a":5,"b":null}"#),
            ("/sum", r#"{"a":1,"A":2,"b":3}"#),
            ("/concat", r#"{"A":"x","B":"y"} trailing"#),
        ],
    );
    ours.shutdown(Duration::from_secs(1));
}

#[derive(Serialize)]
struct S {
    s: String,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Upper {
    v: String,
    #[serde(default)]
    err: Option<String>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct V<T> {
    v: T,
}

#[derive(Serialize)]
struct Ab<T> {
    a: T,
    b: T,
}

fn client<Req: Serialize, Resp: serde::de::DeserializeOwned>(
    addr: SocketAddr,
    path: &str,
) -> impl Endpoint<Req, Response = Resp, Error = ClientError> + use<Req, Resp> {
    Client::new(
        Method::POST,
        format!("http://{addr}{path}").parse().unwrap(),
        encode_json_request::<Req, ClientError>,
        decode_json_response::<Resp, ClientError>,
    )
}

#[test]
fn synkit_client_calls_go_kit_servers() {
    let strings = GoServer::start("kitstringsvc");
    let adds = GoServer::start("kitaddsvc");
    let cx = Context::background();

    let uppercase = client::<S, Upper>(strings.addr(), "/uppercase");
    assert_eq!(
        uppercase.call(&cx, S { s: "go kit".into() }),
        Ok(Upper {
            v: "GO KIT".into(),
            err: None
        })
    );
    assert_eq!(
        uppercase.call(&cx, S { s: String::new() }),
        Ok(Upper {
            v: String::new(),
            err: Some("empty string".into())
        })
    );
    let count = client::<S, V<usize>>(strings.addr(), "/count");
    assert_eq!(count.call(&cx, S { s: "héllo".into() }), Ok(V { v: 6 }));

    let sum = client::<Ab<i64>, V<i64>>(adds.addr(), "/sum");
    assert_eq!(sum.call(&cx, Ab { a: 1, b: 2 }), Ok(V { v: 3 }));
    let overflow = sum
        .call(
            &cx,
            Ab {
                a: 2_147_483_647,
                b: 1,
            },
        )
        .unwrap_err();
    assert!(
        matches!(&overflow, ClientError::Status(s, body) if s.as_u16() == 400 && body == "{\"error\":\"integer overflow\"}\n"),
        "{overflow}"
    );
    let concat = client::<Ab<String>, V<String>>(adds.addr(), "/concat");
    assert_eq!(
        concat.call(
            &cx,
            Ab {
                a: "1".into(),
                b: "2".into()
            }
        ),
        Ok(V { v: "12".into() })
    );
}

#[test]
fn go_kit_client_calls_synkit_servers_and_sees_what_go_kit_servers_say() {
    let kit_strings = GoServer::start("kitstringsvc");
    let kit_adds = GoServer::start("kitaddsvc");
    let strings = synkit(synkit_examples::stringsvc::transport::router(Strings));
    let adds = synkit(synkit_examples::addsvc::transport::router(Adder));
    let cases = [
        (
            strings.local_addr(),
            kit_strings.addr(),
            "uppercase",
            r#"{"s":"hello"}"#,
            r#"{"status":200,"body":{"v":"HELLO"}}"#,
        ),
        (
            strings.local_addr(),
            kit_strings.addr(),
            "uppercase",
            r#"{"s":""}"#,
            r#"{"status":200,"body":{"v":"","err":"empty string"}}"#,
        ),
        (
            strings.local_addr(),
            kit_strings.addr(),
            "count",
            r#"{"s":"abc"}"#,
            r#"{"status":200,"body":{"v":3}}"#,
        ),
        (
            adds.local_addr(),
            kit_adds.addr(),
            "sum",
            r#"{"a":1,"b":2}"#,
            r#"{"status":200,"body":{"v":3}}"#,
        ),
        (
            adds.local_addr(),
            kit_adds.addr(),
            "sum",
            r#"{"a":0,"b":0}"#,
            r#"{"status":400,"body":{"error":"can't sum two zeroes"}}"#,
        ),
        (
            adds.local_addr(),
            kit_adds.addr(),
            "sum",
            r#"{"a":2147483647,"b":1}"#,
            r#"{"status":400,"body":{"error":"integer overflow"}}"#,
        ),
        (
            adds.local_addr(),
            kit_adds.addr(),
            "concat",
            r#"{"a":"1","b":"2"}"#,
            r#"{"status":200,"body":{"v":"12"}}"#,
        ),
        (
            adds.local_addr(),
            kit_adds.addr(),
            "concat",
            r#"{"a":"123456","b":"789012"}"#,
            r#"{"status":400,"body":{"error":"result exceeds maximum size"}}"#,
        ),
    ];
    for (ours, theirs, method, body, expected) in cases {
        let expected: serde_json::Value = serde_json::from_str(expected).unwrap();
        assert_eq!(
            kitcli(ours, method, body),
            expected,
            "{method} {body} against synkit"
        );
        assert_eq!(
            kitcli(theirs, method, body),
            expected,
            "{method} {body} against Go kit"
        );
    }
    strings.shutdown(Duration::from_secs(1));
    adds.shutdown(Duration::from_secs(1));
}
