//! The HTTP/2 framing checked by another implementation: nghttp2's
//! `h2load` (Debian's `nghttp2-client`) makes thousands of calls on
//! several connections, many streams at once, with small frames and
//! windows, and counts every response it could not read as an error.

use std::time::Duration;

use synkit_examples::addsvc::Adder;
use synkit_tests::h2::h2load;
use synkit_transports::http::server::ServerConfig;

#[test]
fn h2load_reads_every_answer_on_many_streams() {
    let body = synkit_tests::examples::scratch("h2load").join("sum.bin");
    // pb.SumRequest{a: 1, b: 2}, framed.
    std::fs::write(&body, [0, 0, 0, 0, 4, 0x08, 1, 0x10, 2]).unwrap();
    for workers in [0, 2] {
        let config = ServerConfig {
            workers,
            ..ServerConfig::default()
        };
        let server = synkit_examples::addsvc::grpc::server(Adder)
            .bind("127.0.0.1:0", &config)
            .unwrap();
        let url = format!("http://{}/pb.Add/Sum", server.local_addr());
        let body = body.to_str().unwrap();
        let grpc = ["-H", "content-type: application/grpc", "-H", "te: trailers"];
        // 20 000 calls, 8 connections × 32 streams.
        let mut args = vec!["-n", "20000", "-c", "8", "-m", "32", "-t", "1", "-d", body];
        args.extend(grpc);
        args.push(&url);
        let (counts, ok, text) = h2load(&args);
        assert_eq!(counts, (20_000, 20_000, 0, 0), "workers {workers}: {text}");
        assert_eq!(ok, 20_000);
        // Tiny windows (2^10 bytes per stream, 2^16 per connection): every
        // answer goes out in pieces as the windows open.
        let mut args = vec![
            "-n", "2000", "-c", "2", "-m", "16", "-t", "1", "-w", "10", "-W", "16", "-d", body,
        ];
        args.extend(grpc);
        args.push(&url);
        let (counts, ok, text) = h2load(&args);
        assert_eq!(counts, (2000, 2000, 0, 0), "workers {workers}: {text}");
        assert_eq!(ok, 2000);
        server.shutdown(Duration::from_secs(1));
    }
}
