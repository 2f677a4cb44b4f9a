//! synkit and real Go kit, in both directions: the same requests answered
//! byte for byte alike, synkit's client calling Go kit servers, and Go kit's
//! client calling synkit servers.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use synkit_core::{Context, Endpoint};
use synkit_examples::addsvc::Adder;
use synkit_examples::stringsvc::Strings;
use synkit_tests::gokit::{GoServer, kitcli};
use synkit_tests::wire::exchange;
use synkit_transports::http::Method;
use synkit_transports::http::client::{
    Client, ClientError, decode_json_response, encode_json_request,
};
use synkit_transports::http::server::{Router, Server, ServerConfig, ServerHandle};

fn synkit(router: Router) -> ServerHandle {
    Server::new(ServerConfig::default())
        .bind("127.0.0.1:0", router)
        .expect("bind")
}

/// Status and body of one request sent as raw bytes.
fn answer(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: peer\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let got = exchange(addr, raw.as_bytes(), Duration::from_secs(5)).text();
    let (head, body) = got
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response: {got:?}"));
    (head[9..12].parse().unwrap(), body.to_owned())
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
    assert_eq!(count.call(&cx, S { s: "héllo".into() }), Ok(V { v: 5 }));

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
