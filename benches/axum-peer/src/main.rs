//! Go kit's stringsvc on axum: the comparison peer for synkit's HTTP
//! server. Same routes and wire format; `--addr HOST:PORT`, and
//! `--threads N` for tokio's worker threads (default: one per core).

use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct StringRequest {
    s: String,
}

#[derive(Serialize)]
struct UppercaseReply {
    v: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    err: Option<String>,
}

#[derive(Serialize)]
struct CountReply {
    v: usize,
}

async fn uppercase(Json(req): Json<StringRequest>) -> Json<UppercaseReply> {
    if req.s.is_empty() {
        return Json(UppercaseReply { v: String::new(), err: Some("empty string".into()) });
    }
    Json(UppercaseReply { v: req.s.to_uppercase(), err: None })
}

async fn count(Json(req): Json<StringRequest>) -> Json<CountReply> {
    Json(CountReply { v: req.s.chars().count() })
}

async fn health() -> &'static str {
    "{\"status\":\"ok\"}\n"
}

fn main() {
    let mut addr = "127.0.0.1:8081".to_string();
    let mut threads = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(v)) => addr = v,
            ("--threads", Some(v)) => threads = v.parse().expect("--threads takes a number"),
            _ => panic!("usage: [--addr HOST:PORT] [--threads N]"),
        }
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        rt.worker_threads(threads);
    }
    rt.enable_all().build().expect("tokio runtime").block_on(async move {
        let app = Router::new()
            .route("/uppercase", post(uppercase))
            .route("/count", post(count))
            .route("/health", get(health));
        let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
        println!("stringsvc-axum listening on http://{}", listener.local_addr().unwrap());
        axum::serve(listener, app).await.expect("serve");
    });
}
