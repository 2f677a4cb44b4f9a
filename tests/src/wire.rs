//! Talking to a server over a raw socket, for tests that need exact bytes:
//! pipelining, malformed requests, half-sent requests.
//!
//! These are test helpers: every function panics, with the reason, when the
//! socket fails in a way no test expects.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What came back on a connection.
#[derive(Debug)]
pub struct Exchange {
    /// Every byte received.
    pub bytes: Vec<u8>,
    /// Whether the server closed the connection (rather than the wait
    /// running out with it still open).
    pub closed: bool,
}

impl Exchange {
    /// The received bytes as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The status codes of every response received, in order.
    pub fn statuses(&self) -> Vec<u16> {
        self.text()
            .split("HTTP/1.1 ")
            .skip(1)
            .filter_map(|r| r.get(..3).and_then(|s| s.parse().ok()))
            .filter(|&s| s != 100)
            .collect()
    }
}

/// Sends `request` on a new connection and reads until the server closes it
/// or nothing more arrives for `quiet`.
///
/// # Panics
///
/// If the connection or the write fails.
pub fn exchange(addr: SocketAddr, request: &[u8], quiet: Duration) -> Exchange {
    let mut stream = TcpStream::connect(addr).expect("connect to the server under test");
    stream.write_all(request).expect("send the request");
    read_until_quiet(&mut stream, quiet)
}

/// Reads from `stream` until it closes or stays silent for `quiet`.
///
/// # Panics
///
/// On a read error other than a timeout or a reset.
pub fn read_until_quiet(stream: &mut TcpStream, quiet: Duration) -> Exchange {
    stream
        .set_read_timeout(Some(quiet))
        .expect("set a read timeout");
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                return Exchange {
                    bytes,
                    closed: true,
                };
            }
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Exchange {
                    bytes,
                    closed: false,
                };
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return Exchange {
                    bytes,
                    closed: true,
                };
            }
            Err(e) => panic!("reading from the server failed: {e}"),
        }
    }
}

/// Sends `request`, then closes the sending half, and reads what comes.
///
/// # Panics
///
/// If the connection, the write or the half-close fails.
pub fn exchange_half_closed(addr: SocketAddr, request: &[u8], quiet: Duration) -> Exchange {
    let mut stream = TcpStream::connect(addr).expect("connect to the server under test");
    stream.write_all(request).expect("send the request");
    stream.shutdown(Shutdown::Write).expect("half-close");
    read_until_quiet(&mut stream, quiet)
}

/// Polls `done` until it holds or `limit` passes; true if it held.
pub fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::yield_now();
    }
    done()
}

/// Asserts that a plain `GET /health` on a new connection is answered 200
/// within a second: the server still serves a normal client (`why` says
/// beside what).
///
/// # Panics
///
/// If it is not.
pub fn assert_served(addr: SocketAddr, why: &str) {
    let start = Instant::now();
    let got = exchange(
        addr,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(2),
    );
    assert_eq!(got.statuses(), [200], "{why}: {}", got.text());
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{why}: slow answer"
    );
}
