//! A Zipkin collector for the tracing tests: no Zipkin server can be
//! installed here, so this small HTTP server takes `POST /api/v2/spans`,
//! checks every span against the v2 API's schema, and keeps them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use crate::registry::within;

/// How the collector answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 202 Accepted, as Zipkin does.
    Accept,
    /// 500, as a broken collector would.
    Fail,
    /// Waits this long, then accepts.
    Slow(Duration),
}

#[derive(Debug, Default)]
struct Kept {
    spans: Vec<Value>,
    problems: Vec<String>,
    posts: usize,
}

/// The collector; it stops taking connections when dropped.
#[derive(Debug)]
pub struct Collector {
    addr: SocketAddr,
    kept: Arc<Mutex<Kept>>,
    answer: Arc<Mutex<Answer>>,
}

fn is_hex(v: &Value, lens: &[usize]) -> bool {
    v.as_str().is_some_and(|s| {
        lens.contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// What is wrong with `span` under Zipkin's v2 schema, if anything.
fn check(span: &Value) -> Option<String> {
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_micros();
    let problem = if !is_hex(&span["traceId"], &[16, 32]) {
        "traceId is not 16 or 32 lowercase hex digits"
    } else if !is_hex(&span["id"], &[16]) {
        "id is not 16 lowercase hex digits"
    } else if !span["parentId"].is_null() && !is_hex(&span["parentId"], &[16]) {
        "parentId is not 16 lowercase hex digits"
    } else if span["timestamp"]
        .as_u64()
        .is_none_or(|t| u128::from(t).abs_diff(now_us) >= 3_600_000_000)
    {
        "timestamp is not microseconds since the epoch, within an hour of now"
    } else if span["duration"].as_u64().is_none_or(|d| d < 1) {
        "duration is not a positive number of microseconds"
    } else if !span["kind"].is_null()
        && !["CLIENT", "SERVER", "PRODUCER", "CONSUMER"]
            .contains(&span["kind"].as_str().unwrap_or(""))
    {
        "kind is not CLIENT, SERVER, PRODUCER or CONSUMER"
    } else if !span["localEndpoint"]["serviceName"].is_string() {
        "localEndpoint.serviceName is missing"
    } else if !span["tags"].is_null()
        && !span["tags"]
            .as_object()
            .is_some_and(|t| t.values().all(Value::is_string))
    {
        "a tag value is not a string"
    } else {
        return None;
    };
    Some(format!("{problem}: {span}"))
}

impl Collector {
    /// Starts a collector on a free loopback port.
    ///
    /// # Panics
    ///
    /// If it cannot listen.
    pub fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the collector");
        let addr = listener.local_addr().expect("collector address");
        let kept = Arc::new(Mutex::new(Kept::default()));
        let answer = Arc::new(Mutex::new(Answer::Accept));
        let (k, a) = (kept.clone(), answer.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (k, a) = (k.clone(), a.clone());
                std::thread::spawn(move || serve(stream, &k, &a));
            }
        });
        Collector { addr, kept, answer }
    }

    /// The URL to post spans to.
    pub fn url(&self) -> String {
        format!("http://{}/api/v2/spans", self.addr)
    }

    /// Answers from now on with `answer`.
    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) = answer;
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Value> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .spans
            .clone()
    }

    /// Schema problems found so far (should be none).
    pub fn problems(&self) -> Vec<String> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .problems
            .clone()
    }

    /// POSTs received so far.
    pub fn posts(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .posts
    }

    /// Waits until at least `n` spans have arrived; true if they did.
    pub fn wait_for(&self, n: usize, limit: Duration) -> bool {
        within(limit, || self.spans().len() >= n)
    }
}

fn serve(stream: TcpStream, kept: &Mutex<Kept>, answer: &Mutex<Answer>) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let how = *answer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Answer::Slow(d) = how {
            std::thread::sleep(d);
        }
        if how == Answer::Fail {
            let _ =
                out.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
            continue;
        }
        {
            let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.posts += 1;
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Array(spans)) if line.starts_with("POST /api/v2/spans ") => {
                    for span in spans {
                        if let Some(problem) = check(&span) {
                            kept.problems.push(problem);
                        }
                        kept.spans.push(span);
                    }
                }
                _ => kept.problems.push(format!(
                    "not a v2 span list: {line} {}",
                    String::from_utf8_lossy(&body)
                )),
            }
        }
        let _ = out.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
    }
}
