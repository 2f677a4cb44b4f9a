//! The sniffing session driven by hand, on a manual timeline.

use super::*;
use crate::engine::Stats;
use crate::http::server::ServerConfig;

fn at(ms: u64) -> Now {
    Now {
        at: Instant::from_nanos(1_000_000_000 + ms * 1_000_000),
        unix_secs: 1,
    }
}

fn mixed() -> Mixed {
    let config = Arc::new(ServerConfig::default());
    Mixed::new(
        h1::Connection::new(config, Arc::new(Stats::default())),
        h2::server::connection(h2::server::Options::new(
            synkit_core::time::Duration::from_secs(5),
            1 << 20,
        )),
    )
}

/// The client's preface and an empty SETTINGS frame.
fn h2_hello() -> Vec<u8> {
    let mut hello = PREFACE.to_vec();
    crate::h2::frame::put_settings(&mut hello, &[]);
    hello
}

#[test]
fn the_preface_byte_by_byte_makes_it_http2() {
    let mut m = mixed();
    let hello = h2_hello();
    for (i, b) in hello.iter().enumerate() {
        m.received(std::slice::from_ref(b), &at(i as u64));
        if i + 1 < PREFACE.len() {
            assert!(
                matches!(m.protocol, Protocol::Undecided { .. }),
                "at byte {i}"
            );
            assert!(m.output().is_empty(), "nothing is said before deciding");
        }
    }
    assert!(matches!(m.protocol, Protocol::Grpc(_)));
    // Our SETTINGS (type 4) open what we write.
    assert_eq!(m.output().get(3), Some(&4));
}

#[test]
fn anything_else_is_http1_at_its_first_odd_byte() {
    let mut m = mixed();
    m.received(b"P", &at(0));
    assert!(matches!(m.protocol, Protocol::Undecided { .. }));
    m.received(
        b"OST /sum HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}",
        &at(1),
    );
    assert!(matches!(m.protocol, Protocol::Http(_)));
    let request = m.next_request(&at(2)).expect("the HTTP/1.1 request");
    let Either::Http(x) = &request.exchange else {
        panic!("an HTTP/1.1 exchange");
    };
    assert_eq!(x.request.uri().path(), "/sum");
    // "PRI " then a different byte: HTTP/1.1 too (the method is PRI).
    let mut m = mixed();
    m.received(b"PRI * HTTP/1.1\r\n", &at(0));
    assert!(matches!(m.protocol, Protocol::Http(_)));
}

#[test]
fn a_client_stalled_inside_the_preface_is_reading_and_closed_silently_at_its_timeout() {
    let mut m = mixed();
    m.received(&PREFACE[..10], &at(5));
    assert_eq!(m.activity(), Activity::Reading);
    m.timed_out(Timeout::Read, &at(10_005));
    assert!(m.wants_close());
    assert!(!m.wants_read());
    assert!(m.output().is_empty(), "neither protocol can answer");
}

#[test]
fn a_silent_connection_is_idle_and_read_close_decides() {
    let mut m = mixed();
    assert_eq!(m.activity(), Activity::Idle);
    // The client half-closes inside the preface: HTTP/1.1 takes the bytes
    // and ends the connection as it would a cut request.
    m.received(&PREFACE[..3], &at(1));
    m.read_closed(&at(2));
    assert!(matches!(m.protocol, Protocol::Http(_)));
    assert!(m.next_request(&at(3)).is_none());
}
