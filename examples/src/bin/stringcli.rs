//! Calls a stringsvc or an addsvc and prints the result, over any of the
//! transports they serve (`--transport`, default http):
//!
//! ```text
//! stringcli [--transport http|jsonrpc|netrpc|nats|grpc] [--url URL] [--timeout-ms 1000]
//!           [--netrpc-codec gob|json|http] (uppercase S | count S | sum A B | concat A B)
//! stringcli uppercase "hello"                                   # HTTP, stringsvc on :8080
//! stringcli --url http://127.0.0.1:8081 sum 1 2                 # HTTP, addsvc on :8081
//! stringcli --transport jsonrpc sum 1 2                         # addsvc's JSON-RPC on :8084
//! stringcli --transport netrpc concat 1 2                       # addsvc's net/rpc (gob) on :8085
//! stringcli --transport nats uppercase hello                    # stringsvc --nats, NATS on :4222
//! stringcli --transport grpc sum 1 2                            # addsvc's gRPC (h2c) on :8082
//! ```
//!
//! `--url` defaults to the transport's usual place: `http://127.0.0.1:8080`
//! for http (8081 for sum and concat: addsvc), `http://127.0.0.1:8084` for
//! jsonrpc, `127.0.0.1:8085` for netrpc, `nats://127.0.0.1:4222` for nats,
//! `127.0.0.1:8082` for grpc (addsvc's `pb.Add`: sum and concat).
//! net/rpc methods are `StringService.Uppercase`, `StringService.Count`,
//! `addsvc.Sum` and `addsvc.Concat`; NATS subjects `stringsvc.uppercase`
//! and so on. Exit status 0 with the result on stdout; 1 with the error
//! on stderr; 2 for bad usage.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use synkit_core::{Context, Endpoint};
use synkit_examples::addsvc::grpc::{ConcatReply, ConcatRequest, SumReply, SumRequest};
use synkit_transports::grpc::Client as GrpcClient;
use synkit_transports::http::Method;
use synkit_transports::http::client::{
    Client, ClientError, decode_json_response, encode_json_request,
};
use synkit_transports::nats::{Connection, Options, Publisher};
use synkit_transports::netrpc::{self, Codec};

/// Every method's answer: the value, and the service's error if any.
#[derive(Debug, Deserialize)]
struct Reply {
    #[serde(default)]
    v: serde_json::Value,
    #[serde(default)]
    err: Option<String>,
}

/// `uppercase`/`count`'s argument (Go: `{S string}`).
#[derive(Serialize)]
struct Text<'a> {
    s: &'a str,
}

/// `sum`/`concat`'s arguments (Go: `{A, B T}`).
#[derive(Serialize)]
struct Pair<T> {
    a: T,
    b: T,
}

/// What to call, with its argument.
enum Call<'a> {
    Uppercase(&'a str),
    Count(&'a str),
    Sum(i64, i64),
    Concat(&'a str, &'a str),
}

impl Call<'_> {
    fn name(&self) -> &'static str {
        match self {
            Call::Uppercase(_) => "uppercase",
            Call::Count(_) => "count",
            Call::Sum(..) => "sum",
            Call::Concat(..) => "concat",
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Call::Uppercase(s) | Call::Count(s) => serde_json::json!({ "s": s }),
            Call::Sum(a, b) => serde_json::json!({ "a": a, "b": b }),
            Call::Concat(a, b) => serde_json::json!({ "a": a, "b": b }),
        }
    }

    fn for_addsvc(&self) -> bool {
        matches!(self, Call::Sum(..) | Call::Concat(..))
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: stringcli [--transport http|jsonrpc|netrpc|nats|grpc] [--url URL] [--timeout-ms N]\n\
         \x20                [--netrpc-codec gob|json|http] (uppercase S | count S | sum A B | concat A B)"
    );
    std::process::exit(2);
}

fn http(cx: &Context<'_>, base: &str, call: &Call<'_>) -> Result<Reply, String> {
    let url = format!("{}/{}", base.trim_end_matches('/'), call.name())
        .parse()
        .map_err(|e| format!("bad URL {base:?}: {e}"))?;
    Client::new(
        Method::POST,
        url,
        encode_json_request::<serde_json::Value, ClientError>,
        decode_json_response::<Reply, ClientError>,
    )
    .call(cx, call.json())
    .map_err(|e| e.to_string())
}

fn jsonrpc(cx: &Context<'_>, url: &str, call: &Call<'_>) -> Result<Reply, String> {
    let url = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
    synkit_transports::jsonrpc::client::client::<serde_json::Value, Reply>(url, call.name())
        .call(cx, call.json())
        .map_err(|e| e.to_string())
}

fn netrpc(cx: &Context<'_>, addr: &str, codec: Codec, call: &Call<'_>) -> Result<Reply, String> {
    let addr = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("not an address: {addr:?}"))?;
    let client = Arc::new(netrpc::Client::with_codec(addr, codec));
    let out = match call {
        Call::Uppercase(s) => client.call(cx, "StringService.Uppercase", &Text { s }),
        Call::Count(s) => client.call(cx, "StringService.Count", &Text { s }),
        Call::Sum(a, b) => client.call(cx, "addsvc.Sum", &Pair { a: *a, b: *b }),
        Call::Concat(a, b) => client.call(cx, "addsvc.Concat", &Pair { a: *a, b: *b }),
    };
    out.map_err(|e| e.to_string())
}

fn grpc(cx: &Context<'_>, addr: &str, call: &Call<'_>) -> Result<Reply, String> {
    let addr = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("not an address: {addr:?}"))?;
    let client = GrpcClient::new(addr);
    let reply = |v: serde_json::Value, err: String| Reply {
        v,
        err: (!err.is_empty()).then_some(err),
    };
    match call {
        Call::Sum(a, b) => client
            .call::<_, SumReply>(cx, "/pb.Add/Sum", &SumRequest { a: *a, b: *b })
            .map(|r| reply(r.v.into(), r.err)),
        Call::Concat(a, b) => {
            let req = ConcatRequest {
                a: (*a).to_owned(),
                b: (*b).to_owned(),
            };
            client
                .call::<_, ConcatReply>(cx, "/pb.Add/Concat", &req)
                .map(|r| reply(r.v.into(), r.err))
        }
        _ => return Err("over gRPC, only addsvc's sum and concat are served".into()),
    }
    .map_err(|e| e.to_string())
}

fn nats(cx: &Context<'_>, url: &str, call: &Call<'_>) -> Result<Reply, String> {
    let options = Options {
        name: "stringcli".into(),
        ..Options::default()
    };
    let conn = Connection::connect(url, options).map_err(|e| e.to_string())?;
    let service = if call.for_addsvc() {
        "addsvc"
    } else {
        "stringsvc"
    };
    let subject = format!("{service}.{}", call.name());
    Publisher::<serde_json::Value, Reply>::json(conn, &subject)
        .call(cx, call.json())
        .map_err(|e| e.to_string())
}

fn main() {
    let mut transport = "http".to_owned();
    let mut url = None;
    let mut codec = Codec::Gob;
    let mut timeout = Duration::from_secs(1);
    let mut rest = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} takes a value")))
        };
        match arg.as_str() {
            "--transport" => transport = value(),
            "--url" => url = Some(value()),
            "--netrpc-codec" => {
                codec = match value().as_str() {
                    "gob" => Codec::Gob,
                    "json" => Codec::Json,
                    "http" => Codec::GobHttp,
                    other => usage(&format!(
                        "--netrpc-codec takes gob, json or http, not {other:?}"
                    )),
                }
            }
            "--timeout-ms" => {
                let ms = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--timeout-ms takes a number"));
                timeout = Duration::from_millis(ms);
            }
            _ => rest.push(arg),
        }
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let call = match rest.as_slice() {
        ["uppercase", s] => Call::Uppercase(s),
        ["count", s] => Call::Count(s),
        ["sum", a, b] => match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) => Call::Sum(a, b),
            _ => usage("sum takes two integers"),
        },
        ["concat", a, b] => Call::Concat(a, b),
        _ => usage("which call?"),
    };
    let root = Context::background();
    let cx = root.with_timeout(timeout);
    let default_url = match (transport.as_str(), call.for_addsvc()) {
        ("http", false) => "http://127.0.0.1:8080",
        ("http", true) => "http://127.0.0.1:8081",
        ("jsonrpc", _) => "http://127.0.0.1:8084",
        ("netrpc", _) => "127.0.0.1:8085",
        ("nats", _) => "nats://127.0.0.1:4222",
        ("grpc", _) => "127.0.0.1:8082",
        (other, _) => usage(&format!(
            "--transport takes http, jsonrpc, netrpc, nats or grpc, not {other:?}"
        )),
    };
    let url = url.as_deref().unwrap_or(default_url);
    let out = match transport.as_str() {
        "http" => http(&cx, url, &call),
        "jsonrpc" => jsonrpc(&cx, url, &call),
        "netrpc" => netrpc(&cx, url, codec, &call),
        "grpc" => grpc(&cx, url, &call),
        _ => nats(&cx, url, &call),
    };
    match out {
        Ok(Reply { err: Some(err), .. }) if !err.is_empty() => {
            eprintln!("error: {err}");
            std::process::exit(1);
        }
        Ok(Reply {
            v: serde_json::Value::String(v),
            ..
        }) => println!("{v}"),
        Ok(Reply { v, .. }) => println!("{v}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
