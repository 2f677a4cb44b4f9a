//! Go's net/rpc with its default gob codec, bare (`rpc.Dial`,
//! `rpc.ServeConn`) and over HTTP (`rpc.DialHTTP`, `rpc.HandleHTTP`):
//! Go's clients calling synkit's server and Go's server alike, synkit's
//! client calling Go's server, a thousand calls on one connection, and a
//! corpus of bad streams sent to both servers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use synkit_core::{Context, Endpoint};
use synkit_examples::addsvc::Adder;
use synkit_examples::addsvc::transport::{
    ConcatRequest, Reply, SumRequest, concat_endpoint, sum_endpoint,
};
use synkit_tests::examples::Process;
use synkit_tests::gokit::{binary, free_addr};
use synkit_tests::registry::within;
use synkit_transports::http::server::ServerConfig;
use synkit_transports::netrpc::gob::{Decoder, Encoder};
use synkit_transports::netrpc::{self, Codec, Handle, NetRpcError};

fn ours() -> Handle {
    netrpc::Server::new()
        .method("addsvc.Sum", sum_endpoint(Adder))
        .method("addsvc.Concat", concat_endpoint(Adder))
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap()
}

/// Go's own server in `codec` (gob or http), and where it listens.
fn gos(codec: &str) -> (Process, SocketAddr) {
    let addr = free_addr();
    let process = Process::start_command(Command::new(binary("kitnetrpc")).args([
        "-codec",
        codec,
        "-listen",
        &addr.to_string(),
    ]));
    assert!(within(Duration::from_secs(10), || TcpStream::connect(addr).is_ok()));
    (process, addr)
}

fn go_client(codec: &str, addr: SocketAddr, method: &str, params: &str) -> String {
    let addr = addr.to_string();
    synkit_tests::gokit::run(
        "kitnetrpc",
        &[
            "-mode", "client", "-codec", codec, "-addr", &addr, "-method", method, "-params",
            params,
        ],
    )
}

#[test]
fn gos_gob_clients_get_the_same_answers_from_synkit_as_from_go() {
    let server = ours();
    for codec in ["gob", "http"] {
        let (_go, go) = gos(codec);
        for (method, params, want) in [
            ("addsvc.Sum", r#"{"a":2,"b":3}"#, r#"{"reply":{"v":5}}"#),
            (
                "addsvc.Concat",
                r#"{"a":"go","b":"rpc"}"#,
                r#"{"reply":{"v":"gorpc"}}"#,
            ),
            (
                "addsvc.Sum",
                r#"{"a":0,"b":0}"#,
                r#"{"error":"can't sum two zeroes"}"#,
            ),
            (
                "addsvc.Nope",
                "{}",
                r#"{"error":"rpc: can't find method addsvc.Nope"}"#,
            ),
            (
                "Foo.Bar",
                "{}",
                r#"{"error":"rpc: can't find service Foo.Bar"}"#,
            ),
            (
                "nodot",
                "{}",
                r#"{"error":"rpc: service/method request ill-formed: nodot"}"#,
            ),
        ] {
            let theirs = go_client(codec, go, method, params);
            let mine = go_client(codec, server.local_addr(), method, params);
            assert_eq!(theirs, want, "Go's server, {codec} {method}");
            assert_eq!(mine, want, "synkit's server, {codec} {method}");
        }
    }
    server.shutdown(Duration::from_secs(1));
}

/// net/rpc's headers, to read and write raw streams.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Request {
    service_method: String,
    seq: u64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Response {
    service_method: String,
    seq: u64,
    error: String,
}

/// `addsvc.Sum(a, 1)` with sequence number `a`, on `enc`'s stream.
fn sum_call(enc: &mut Encoder, a: i64, out: &mut Vec<u8>) {
    let seq = a.cast_unsigned();
    enc.encode(
        &Request {
            service_method: "addsvc.Sum".into(),
            seq,
        },
        out,
    )
    .unwrap();
    enc.encode(&SumRequest { a, b: 1 }, out).unwrap();
}

/// What `rpc.HandleHTTP` answers to `CONNECT /_goRPC_`.
const CONNECTED: &[u8] = b"HTTP/1.0 200 Connected to Go RPC\n\n";

/// Asks for the gob stream over HTTP and waits for the answer, as
/// `rpc.DialHTTP` does (Go's server drops bytes sent before it answers).
fn connect(s: &mut TcpStream) {
    s.write_all(b"CONNECT /_goRPC_ HTTP/1.0\n\n").unwrap();
    let mut head = vec![0; CONNECTED.len()];
    s.read_exact(&mut head).unwrap();
    assert_eq!(head, CONNECTED);
}

/// Sends `bytes` (after `CONNECT /_goRPC_` if `http`), optionally ends
/// the stream, and reads until it closes or goes quiet: what came back
/// (past the HTTP answer) and whether it closed.
fn exchange(addr: SocketAddr, http: bool, bytes: &[u8], end: bool) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    if http {
        connect(&mut s);
    }
    // The server may close while this is still being written.
    let _ = s.write_all(bytes);
    if end {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                break !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    };
    (got, closed)
}

/// The answers in a gob stream: headers with the sums they carry.
fn answers(bytes: &[u8]) -> Vec<(Response, Option<i64>)> {
    let mut dec = Decoder::new();
    let mut at = 0;
    let mut all = Vec::new();
    while let Some((header, used)) = dec.decode::<Response>(&bytes[at..]).unwrap() {
        at += used;
        if header.error.is_empty() {
            let (reply, used) = dec.decode::<Reply<i64>>(&bytes[at..]).unwrap().unwrap();
            at += used;
            all.push((header, Some(reply.v)));
        } else {
            // Go's empty struct.
            let (_, used) = dec
                .decode::<serde::de::IgnoredAny>(&bytes[at..])
                .unwrap()
                .unwrap();
            at += used;
            all.push((header, None));
        }
    }
    assert_eq!(at, bytes.len(), "a partial answer");
    all
}

/// A complex number where an argument should be (gob's type 7).
fn complex_body(out: &mut Vec<u8>) {
    // [len 19] [type 7] [singleton 0] [two floats: 8-byte 1.0 and 2.0]
    out.extend_from_slice(&[0x13, 0x0e, 0x00]);
    out.extend_from_slice(&[0xf8, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    out.extend_from_slice(&[0xf8, 0, 0, 0, 0, 0, 0, 0, 0x40]);
}

/// Runs `check` for each codec with Go's server and ours, and `both`:
/// the same bytes sent to each.
fn for_both_servers(
    check: impl Fn(&str, &dyn Fn(&[u8], bool) -> ((Vec<u8>, bool), (Vec<u8>, bool))),
) {
    let server = ours();
    let synkit = server.local_addr();
    for codec in ["gob", "http"] {
        let (_go, go) = gos(codec);
        let http = codec == "http";
        let both = |bytes: &[u8], end: bool| {
            (
                exchange(go, http, bytes, end),
                exchange(synkit, http, bytes, end),
            )
        };
        check(codec, &both);
    }
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn both_servers_answer_alike() {
    for_both_servers(|codec, both| {
        // Three calls: answered with the same headers and values.
        let mut enc = Encoder::new();
        let mut calls = Vec::new();
        for a in [1, 41] {
            sum_call(&mut enc, a, &mut calls);
        }
        enc.encode(
            &Request {
                service_method: "addsvc.Sum".into(),
                seq: 0,
            },
            &mut calls,
        )
        .unwrap();
        enc.encode(&SumRequest { a: 0, b: 0 }, &mut calls).unwrap();
        let ((theirs, _), (mine, _)) = both(&calls, false);
        let (mut theirs, mut mine) = (answers(&theirs), answers(&mine));
        theirs.sort_by_key(|(h, _)| h.seq);
        mine.sort_by_key(|(h, _)| h.seq);
        assert_eq!(mine, theirs, "{codec}");
        // In seq order: 0 (two zeroes), 1, 41.
        assert_eq!(mine[0].0.error, "can't sum two zeroes");
        assert_eq!((mine[1].1, mine[2].1), (Some(2), Some(42)));
    });
}

#[test]
fn both_servers_treat_bad_streams_alike() {
    for_both_servers(|codec, both| {
        // A good call, then garbage: answered, then closed.
        let mut stream = Vec::new();
        sum_call(&mut Encoder::new(), 5, &mut stream);
        // A length of 16 bytes: past any integer.
        stream.extend_from_slice(b"\xf0 garbage");
        let ((theirs, go_closed), (mine, closed)) = both(&stream, false);
        assert_eq!(answers(&mine), answers(&theirs), "{codec}");
        assert_eq!(answers(&mine).len(), 1);
        assert!(closed && go_closed, "{codec}: both close");

        // The stream ends inside a call's argument: Go's server answers
        // that call with the decoder's "unexpected EOF", then closes.
        let ((theirs, go_closed), (mine, closed)) = both(&stream[..stream.len() - 20], true);
        assert_eq!(answers(&mine), answers(&theirs), "{codec}");
        assert_eq!(answers(&mine)[0].0.error, "unexpected EOF");
        assert!(closed && go_closed, "{codec}");
        // ... and right after a header: "EOF".
        let mut header = Vec::new();
        Encoder::new()
            .encode(
                &Request {
                    service_method: "addsvc.Sum".into(),
                    seq: 3,
                },
                &mut header,
            )
            .unwrap();
        let ((theirs, go_closed), (mine, closed)) = both(&header, true);
        assert_eq!(answers(&mine), answers(&theirs), "{codec}");
        assert_eq!(answers(&mine)[0].0.error, "EOF");
        assert!(closed && go_closed, "{codec}");
        // Cut inside the header: nothing to answer.
        let ((theirs, go_closed), (mine, closed)) = both(&header[..header.len() - 3], true);
        assert!(
            mine.is_empty() && theirs.is_empty() && closed && go_closed,
            "{codec}"
        );

        // A framed message that is no type definition at all.
        let ((_, go_closed), (mine, closed)) = both(&[0x04, 0xff, 0x81, 0x7f, 0x00], false);
        assert!(closed && go_closed && mine.is_empty(), "{codec}");

        // A value of a type never defined.
        let ((_, go_closed), (mine, closed)) = both(&[0x03, 0xff, 0xa0, 0x00], false);
        assert!(closed && go_closed && mine.is_empty(), "{codec}");

        // A message longer than any call may be.
        let ((_, go_closed), (mine, closed)) = both(&[0xfc, 0x7f, 0xff, 0xff, 0xff, 0x00], false);
        assert!(closed && mine.is_empty(), "{codec}: {go_closed}");

        // An argument of a type the method cannot take: that call fails
        // with the decoder's error and what follows is not served. Go's
        // decoder loses its place in the stream and waits on; ours closes
        // the connection (the difference is deliberate, see the README).
        let mut enc = Encoder::new();
        let mut stream = Vec::new();
        enc.encode(
            &Request {
                service_method: "addsvc.Sum".into(),
                seq: 1,
            },
            &mut stream,
        )
        .unwrap();
        complex_body(&mut stream);
        enc.encode(
            &Request {
                service_method: "addsvc.Sum".into(),
                seq: 2,
            },
            &mut stream,
        )
        .unwrap();
        enc.encode(&SumRequest { a: 2, b: 2 }, &mut stream).unwrap();
        let ((theirs, go_closed), (mine, closed)) = both(&stream, false);
        for (who, got, closed) in [
            ("Go", answers(&theirs), go_closed),
            ("synkit", answers(&mine), closed),
        ] {
            assert_eq!(got.len(), 1, "{who}: {got:?}");
            assert_eq!(got[0].0.seq, 1, "{who}");
            assert!(
                got[0]
                    .0
                    .error
                    .starts_with("gob: type mismatch in decoder: want struct type "),
                "{who}: {got:?}"
            );
            assert_eq!(closed, who == "synkit", "{who}");
        }
    });
}

#[test]
fn a_call_sent_a_byte_at_a_time_is_answered() {
    let server = ours();
    let synkit = server.local_addr();
    for http in [false, true] {
        // One byte at a time: answered all the same.
        let mut call = Vec::new();
        sum_call(&mut Encoder::new(), 9, &mut call);
        let mut s = TcpStream::connect(synkit).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if http {
            connect(&mut s);
        }
        for b in &call {
            s.write_all(std::slice::from_ref(b)).unwrap();
        }
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(answers(&got)[0].1, Some(10), "http {http}");
    }
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn http_that_is_not_connect_is_refused_as_go_refuses_it() {
    let server = ours();
    let (_go, go) = gos("http");
    let get = |addr: SocketAddr, path: &str| -> (String, String) {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "-",
                "-w",
                "\n%{http_code}",
                &format!("http://{addr}{path}"),
            ])
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_owned(), body.to_owned())
    };
    assert_eq!(get(server.local_addr(), "/_goRPC_"), get(go, "/_goRPC_"));
    assert_eq!(get(server.local_addr(), "/_goRPC_").0, "405");
    assert_eq!(
        get(server.local_addr(), "/elsewhere"),
        get(go, "/elsewhere")
    );
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn a_thousand_gob_calls_on_one_connection_are_all_answered_by_seq() {
    let server = ours();
    let mut enc = Encoder::new();
    let mut calls = Vec::new();
    for a in 1..=1000 {
        sum_call(&mut enc, a, &mut calls);
    }
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&calls).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    let all = answers(&got);
    assert_eq!(all.len(), 1000);
    for (header, v) in all {
        assert_eq!(v, Some(header.seq.cast_signed() + 1), "{header:?}");
    }

    // synkit's client: 1 000 calls from 50 threads on its one connection.
    for codec in [Codec::Gob, Codec::GobHttp] {
        let client = Arc::new(netrpc::Client::with_codec(server.local_addr(), codec));
        let sum = client.endpoint::<SumRequest, Reply<i64>>("addsvc.Sum");
        std::thread::scope(|scope| {
            for t in 0..50i64 {
                let sum = &sum;
                scope.spawn(move || {
                    let cx = Context::background();
                    for i in 0..20 {
                        let a = t * 100 + i + 1;
                        assert_eq!(sum.call(&cx, SumRequest { a, b: 1 }).unwrap().v, a + 1);
                    }
                });
            }
        });
    }
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn synkits_gob_client_calls_gos_server_in_time() {
    for (name, codec) in [("gob", Codec::Gob), ("http", Codec::GobHttp)] {
        let (_go, go) = gos(name);
        let client = Arc::new(netrpc::Client::with_codec(go, codec));
        let cx = Context::background();
        let sum = client
            .clone()
            .endpoint::<SumRequest, Reply<i64>>("addsvc.Sum");
        assert_eq!(sum.call(&cx, SumRequest { a: 2, b: 3 }).unwrap().v, 5);
        assert_eq!(
            sum.call(&cx, SumRequest { a: 0, b: 0 }),
            Err(NetRpcError::Server("can't sum two zeroes".into()))
        );
        let concat = client
            .clone()
            .endpoint::<ConcatRequest, Reply<String>>("addsvc.Concat");
        let req = ConcatRequest {
            a: "a".into(),
            b: "b".into(),
        };
        assert_eq!(concat.call(&cx, req).unwrap().v, "ab");
        assert_eq!(
            client.call::<_, Reply<i64>>(&cx, "addsvc.Nope", &SumRequest { a: 1, b: 1 }),
            Err(NetRpcError::Server(
                "rpc: can't find method addsvc.Nope".into()
            ))
        );
        // A reply of the wrong type: a codec error, and the connection
        // goes on serving.
        assert!(matches!(
            client.call::<_, Reply<String>>(&cx, "addsvc.Sum", &SumRequest { a: 1, b: 1 }),
            Err(NetRpcError::Codec(_))
        ));
        std::thread::scope(|scope| {
            for t in 0..8i64 {
                let sum = &sum;
                scope.spawn(move || {
                    let cx = Context::background();
                    for i in 0..100 {
                        let a = t * 1000 + i + 1;
                        assert_eq!(sum.call(&cx, SumRequest { a, b: 1 }).unwrap().v, a + 1);
                    }
                });
            }
        });

        // A server that never answers (nor the CONNECT): the deadline ends
        // the call.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let quiet = netrpc::Client::with_codec(silent.local_addr().unwrap(), codec);
        let root = Context::background();
        let cx = root.with_timeout(synkit_core::time::Duration::from_millis(200));
        let started = std::time::Instant::now();
        assert_eq!(
            quiet.call::<_, Reply<i64>>(&cx, "addsvc.Sum", &SumRequest { a: 1, b: 1 }),
            Err(NetRpcError::DeadlineExceeded),
            "{name}"
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{name}");
    }
}
