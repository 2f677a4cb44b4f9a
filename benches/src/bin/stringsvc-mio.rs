//! The floor for synkit's HTTP server: Go kit's `POST /uppercase` served by
//! a bare mio loop on one thread, with nothing a server needs beyond the
//! happy path (no timeouts, no limits, no chunked bodies, no pool). What
//! synkit costs per request above this is the price of being a server.
//!
//! `--addr HOST:PORT` (default 127.0.0.1:8081).

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Request {
    s: String,
}

#[derive(Serialize)]
struct Reply {
    v: String,
}

struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
}

const LISTENER: Token = Token(usize::MAX);

/// Answers every complete request in `input`, leaving a partial one.
fn serve(input: &mut Vec<u8>, output: &mut Vec<u8>) -> bool {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let head = match req.parse(input) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return true,
            Err(_) => return false,
        };
        let length = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| {
                std::str::from_utf8(h.value)
                    .ok()?
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
            .unwrap_or(0);
        if input.len() < head + length {
            return true;
        }
        let body = match serde_json::from_slice::<Request>(&input[head..head + length]) {
            Ok(r) => serde_json::to_vec(&Reply {
                v: r.s.to_uppercase(),
            })
            .unwrap_or_default(),
            Err(_) => b"{\"error\":\"invalid JSON\"}".to_vec(),
        };
        input.drain(..head + length);
        output.extend_from_slice(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ",
        );
        output.extend_from_slice((body.len() + 1).to_string().as_bytes());
        output.extend_from_slice(b"\r\n\r\n");
        output.extend_from_slice(&body);
        output.push(b'\n');
    }
}

fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:8081".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(v)) => addr = v,
            _ => panic!("usage: [--addr HOST:PORT]"),
        }
    }
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr.parse().expect("--addr HOST:PORT"))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!(
        "stringsvc-mio listening on http://{}",
        listener.local_addr()?
    );
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        poll.poll(&mut events, None)?;
        for event in &events {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    stream.set_nodelay(true)?;
                    next += 1;
                    poll.registry()
                        .register(&mut stream, Token(next), Interest::READABLE)?;
                    conns.insert(
                        next,
                        Conn {
                            stream,
                            input: Vec::new(),
                            output: Vec::new(),
                        },
                    );
                }
                continue;
            }
            let id = event.token().0;
            let Some(c) = conns.get_mut(&id) else {
                continue;
            };
            let mut open = true;
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        open = false;
                        break;
                    }
                    Ok(n) => c.input.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        open = false;
                        break;
                    }
                }
            }
            open &= serve(&mut c.input, &mut c.output);
            // Answers are small: a blocking-style write loop is enough here.
            while open && !c.output.is_empty() {
                match c.stream.write(&c.output) {
                    Ok(n) => {
                        c.output.drain(..n);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
                    Err(_) => open = false,
                }
            }
            if !open {
                conns.remove(&id);
            }
        }
    }
}
