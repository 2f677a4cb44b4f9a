//! Calls a stringsvc or addsvc by URL through synkit's HTTP client and
//! prints the result.
//!
//! ```text
//! stringcli [--url http://127.0.0.1:8080] [--timeout-ms 1000] uppercase "hello"
//! stringcli count "hello"
//! stringcli --url http://127.0.0.1:8081 sum 1 2
//! stringcli --url http://127.0.0.1:8081 concat 1 2
//! ```
//!
//! Exit status 0 with the result on stdout; 1 with the error on stderr.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use synkit_core::{Context, Endpoint};
use synkit_transports::http::Method;
use synkit_transports::http::client::{
    Client, ClientError, decode_json_response, encode_json_request,
};

fn call<Req: Serialize, Resp: DeserializeOwned>(
    cx: &Context<'_>,
    base: &str,
    method: &str,
    req: Req,
) -> Result<Resp, ClientError> {
    let url = format!("{}/{method}", base.trim_end_matches('/'))
        .parse()
        .map_err(|e| ClientError::Codec(format!("bad URL {base:?}: {e}")))?;
    Client::new(
        Method::POST,
        url,
        encode_json_request::<Req, ClientError>,
        decode_json_response::<Resp, ClientError>,
    )
    .call(cx, req)
}

fn usage() -> ! {
    eprintln!(
        "usage: stringcli [--url URL] [--timeout-ms N] (uppercase S | count S | sum A B | concat A B)"
    );
    std::process::exit(2);
}

fn main() {
    let mut url = "http://127.0.0.1:8080".to_owned();
    let mut timeout = Duration::from_secs(1);
    let mut rest = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => url = args.next().unwrap_or_else(|| usage()),
            "--timeout-ms" => {
                let ms = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage());
                timeout = Duration::from_millis(ms);
            }
            _ => rest.push(arg),
        }
    }
    let root = Context::background();
    let cx = root.with_timeout(timeout);
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let out: Result<serde_json::Value, ClientError> = match rest.as_slice() {
        ["uppercase" | "count", s] => call(&cx, &url, rest[0], serde_json::json!({ "s": s })),
        ["sum", a, b] => match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(a), Ok(b)) => call(&cx, &url, "sum", serde_json::json!({ "a": a, "b": b })),
            _ => usage(),
        },
        ["concat", a, b] => call(&cx, &url, "concat", serde_json::json!({ "a": a, "b": b })),
        _ => usage(),
    };
    match out {
        Ok(reply) => match (reply.get("v"), reply.get("err").and_then(|e| e.as_str())) {
            (_, Some(err)) => {
                eprintln!("error: {err}");
                std::process::exit(1);
            }
            (Some(serde_json::Value::String(v)), None) => println!("{v}"),
            (Some(v), None) => println!("{v}"),
            (None, None) => println!("{reply}"),
        },
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
