//! A closed-loop load generator for Go's net/rpc, lighter than Go's own
//! client, so that on a shared machine the servers, not the generator, get
//! the CPU: each connection is a thread that sends `addsvc.Sum(1, 2)`,
//! waits for the answer, and sends the next. Prints calls/s and latency
//! percentiles as one JSON object, as the Go peer's load mode does.
//!
//! ```text
//! rpcload --addr 127.0.0.1:8085 --codec json|gob --conns 64 --duration 5
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use synkit_transports::netrpc::gob::{Decoder, Encoder};

#[derive(Serialize)]
struct Request<'a> {
    service_method: &'a str,
    seq: u64,
}

#[derive(Serialize)]
struct SumRequest {
    a: i64,
    b: i64,
}

#[derive(Deserialize)]
struct Response {
    error: String,
}

/// One connection's calls until `until`: each call's latency in µs, and
/// how many failed.
fn json_calls(addr: &str, until: Instant) -> std::io::Result<(Vec<u32>, u64)> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let (mut latencies, mut failed, mut line) = (Vec::new(), 0, String::new());
    let mut id = 0u64;
    while Instant::now() < until {
        id += 1;
        let call =
            format!("{{\"method\":\"addsvc.Sum\",\"params\":[{{\"a\":1,\"b\":2}}],\"id\":{id}}}\n");
        let started = Instant::now();
        writer.write_all(call.as_bytes())?;
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        if !line.contains("\"error\":null") {
            failed += 1;
        }
    }
    Ok((latencies, failed))
}

fn gob_calls(addr: &str, until: Instant) -> std::io::Result<(Vec<u32>, u64)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let (mut enc, mut dec) = (Encoder::new(), Decoder::new());
    let (mut latencies, mut failed) = (Vec::new(), 0);
    let (mut out, mut input, mut buf) = (Vec::new(), Vec::new(), vec![0; 16 << 10]);
    let bad = |e: synkit_transports::netrpc::gob::GobError| std::io::Error::other(e.to_string());
    let mut seq = 0;
    while Instant::now() < until {
        seq += 1;
        out.clear();
        enc.encode(
            &Request {
                service_method: "addsvc.Sum",
                seq,
            },
            &mut out,
        )
        .map_err(bad)?;
        enc.encode(&SumRequest { a: 1, b: 2 }, &mut out)
            .map_err(bad)?;
        let started = Instant::now();
        stream.write_all(&out)?;
        // The header, then the body.
        let header = loop {
            if let Some((h, used)) = dec.decode::<Response>(&input).map_err(bad)? {
                input.drain(..used);
                break h;
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok((latencies, failed));
            }
            input.extend_from_slice(&buf[..n]);
        };
        loop {
            if let Some((_, used)) = dec.decode::<serde::de::IgnoredAny>(&input).map_err(bad)? {
                input.drain(..used);
                break;
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok((latencies, failed));
            }
            input.extend_from_slice(&buf[..n]);
        }
        latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        if !header.error.is_empty() {
            failed += 1;
        }
    }
    Ok((latencies, failed))
}

fn main() {
    let (mut addr, mut codec, mut conns, mut secs) =
        ("127.0.0.1:8085".to_owned(), "json".to_owned(), 64, 5u64);
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        match flag.as_str() {
            "--addr" => addr = value,
            "--codec" => codec = value,
            "--conns" => conns = value.parse().expect("--conns takes a number"),
            "--duration" => secs = value.parse().expect("--duration takes seconds"),
            _ => panic!("unknown flag {flag}"),
        }
    }
    let until = Instant::now() + Duration::from_secs(secs);
    let runs: Vec<_> = (0..conns)
        .map(|_| {
            let (addr, codec) = (addr.clone(), codec.clone());
            std::thread::spawn(move || {
                if codec == "gob" {
                    gob_calls(&addr, until)
                } else {
                    json_calls(&addr, until)
                }
            })
        })
        .collect();
    let (mut all, mut failed) = (Vec::new(), 0);
    for run in runs {
        let (latencies, f) = run.join().expect("a load thread").expect("a connection");
        all.extend(latencies);
        failed += f;
    }
    all.sort_unstable();
    let pct = |p: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let at = ((all.len().saturating_sub(1)) as f64 * p) as usize;
        all.get(at).copied().unwrap_or(0)
    };
    #[allow(clippy::cast_precision_loss)]
    let per_s = all.len() as f64 / secs as f64;
    println!(
        "{{\"calls\":{},\"per_s\":{per_s:.0},\"p50_us\":{},\"p99_us\":{},\"failed\":{failed}}}",
        all.len(),
        pct(0.50),
        pct(0.99)
    );
}
