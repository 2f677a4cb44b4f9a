//! How many allocations one gRPC call costs the server, counted across
//! every thread, with a hand-made HTTP/2 client on one connection. Run
//! alone: other tests in the same binary would be counted too.

use std::io::{Read, Write};
use std::net::TcpStream;

use synkit_examples::addsvc::Adder;
use synkit_tests::h2::{PREFACE, frame, kind, sum_call};
use synkit_tests::process_allocations;
use synkit_transports::http::server::ServerConfig;

/// The bytes of `n` calls from stream `first` on, made before they are
/// sent so that the client's own allocations are not counted.
fn prepare(first: u32, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|k| {
            let mut out = Vec::new();
            sum_call(&mut out, first + 2 * u32::try_from(k).unwrap());
            out
        })
        .collect()
}

/// Makes the `wire` calls one after another, reading each to its
/// trailers.
fn calls(s: &mut TcpStream, next: &mut u32, wire: &[Vec<u8>]) {
    let mut input = Vec::with_capacity(1 << 16);
    let mut buf = [0u8; 4096];
    for out in wire {
        s.write_all(out).unwrap();
        // Until a HEADERS frame with END_STREAM on this stream.
        'answer: loop {
            while input.len() >= 9 {
                let len = usize::from(input[0]) << 16
                    | usize::from(input[1]) << 8
                    | usize::from(input[2]);
                if input.len() < 9 + len {
                    break;
                }
                let (kind, flags) = (input[3], input[4]);
                let stream = u32::from_be_bytes([input[5], input[6], input[7], input[8]]);
                input.drain(..9 + len);
                if kind == 0x1 && flags & 0x1 != 0 && stream == *next {
                    break 'answer;
                }
            }
            let got = s.read(&mut buf).unwrap();
            assert!(got > 0, "the server closed the connection");
            input.extend_from_slice(&buf[..got]);
        }
        *next += 2;
    }
}

#[test]
fn a_grpc_call_costs_a_bounded_number_of_allocations() {
    for workers in [0, 2] {
        let config = ServerConfig {
            workers,
            ..ServerConfig::default()
        };
        let server = synkit_examples::addsvc::grpc::server(Adder)
            .bind("127.0.0.1:0", &config)
            .unwrap();
        let mut s = TcpStream::connect(server.local_addr()).unwrap();
        s.set_nodelay(true).unwrap();
        let mut hello = PREFACE.to_vec();
        frame(&mut hello, kind::SETTINGS, 0, 0, &[]);
        s.write_all(&hello).unwrap();
        let mut next = 1;
        let warm = prepare(next, 500);
        calls(&mut s, &mut next, &warm); // warm up
        let mut windows = [0u32; 3];
        for window in &mut windows {
            let wire = prepare(next, 500);
            let before = process_allocations();
            calls(&mut s, &mut next, &wire);
            *window = u32::try_from(process_allocations() - before).expect("a sane count");
        }
        let fewest = windows.iter().copied().min().unwrap_or(u32::MAX);
        let per_call = f64::from(fewest) / 500.0;
        println!(
            "workers {workers}: {windows:?} allocations in three windows of 500 calls ({per_call:.1} a call)"
        );
        // Four, inline and pooled, as HTTP/1.1: the request's path, its
        // list of fields (common names and values are constants), its
        // body, and the framed reply. Header blocks are encoded in a
        // buffer the connection keeps, the answer's fields are constant
        // lists, and a reply that fits the window goes straight out. (A
        // window of 500 counts one more: a buffer growing now and then.)
        assert!(per_call < 4.05, "{per_call} allocations per call");
        server.shutdown(std::time::Duration::from_secs(1));
    }
}
