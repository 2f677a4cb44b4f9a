//! The sniffing session driven by hand, on a manual timeline, with the
//! two protocols an HTTP port tells apart: HTTP/1.1, and HTTP/2 by its
//! preface.

use std::sync::Arc;

use super::*;
use crate::engine::Stats;
use crate::h2::frame::{PREFACE, put_settings};
use crate::http::server::{Http1, ServerConfig};

fn at(ms: u64) -> Now {
    Now {
        at: Instant::from_nanos(1_000_000_000 + ms * 1_000_000),
        unix_secs: 1,
    }
}

type Port = Sniff<Http1, crate::h2::server::Connection, fn() -> crate::h2::server::Connection>;

fn http2() -> crate::h2::server::Connection {
    crate::h2::server::connection(crate::h2::server::Options::new(
        synkit_core::time::Duration::from_secs(5),
        1 << 20,
    ))
}

fn port() -> Port {
    let config = Arc::new(ServerConfig::default());
    Sniff::new(
        Http1::new(config, Arc::new(Stats::default())),
        PREFACE,
        http2 as fn() -> _,
    )
}

/// The client's preface and an empty SETTINGS frame.
fn h2_hello() -> Vec<u8> {
    let mut hello = PREFACE.to_vec();
    put_settings(&mut hello, &[]);
    hello
}

#[test]
fn the_preface_byte_by_byte_makes_it_the_second_protocol() {
    let mut m = port();
    let hello = h2_hello();
    for (i, b) in hello.iter().enumerate() {
        m.received(std::slice::from_ref(b), &at(i as u64));
        if i + 1 < PREFACE.len() {
            assert_eq!(m.is_second(), None, "undecided at byte {i}");
            assert!(m.output().is_empty(), "nothing is said before deciding");
            assert_eq!(m.activity(), Activity::Reading);
        }
    }
    assert_eq!(m.is_second(), Some(true));
    // Our SETTINGS (type 4) open what we write.
    assert_eq!(m.output().get(3), Some(&4));
}

#[test]
fn the_whole_preface_in_one_read_decides_at_once() {
    let mut m = port();
    m.received(&h2_hello(), &at(0));
    assert_eq!(m.is_second(), Some(true));
    assert_eq!(m.output().get(3), Some(&4));
}

#[test]
fn anything_else_is_the_first_protocol_at_its_first_odd_byte() {
    let mut m = port();
    m.received(b"P", &at(0));
    assert_eq!(m.is_second(), None);
    m.received(
        b"OST /sum HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}",
        &at(1),
    );
    assert_eq!(m.is_second(), Some(false));
    let request = m.next_request(&at(2)).expect("the HTTP/1.1 request");
    let Either::First(x) = &request.exchange else {
        panic!("an HTTP/1.1 exchange");
    };
    assert_eq!(x.request.uri().path(), "/sum");
    assert_eq!(x.request.body(), b"{}");
    // "PRI * HTTP/1.1": the preface's first bytes, then a different one —
    // HTTP/1.1 (whose parser refuses the method PRI).
    let mut m = port();
    m.received(b"PRI * HTTP/1.1\r\n", &at(0));
    assert_eq!(m.is_second(), Some(false));
}

#[test]
fn a_client_stalled_inside_the_preface_is_reading_and_closed_silently_at_its_timeout() {
    let mut m = port();
    m.received(&PREFACE[..10], &at(5));
    assert_eq!(m.activity(), Activity::Reading);
    m.timed_out(Timeout::Read, &at(10_005));
    assert!(m.wants_close());
    assert!(!m.wants_read());
    assert!(m.output().is_empty(), "neither protocol can answer");
}

#[test]
fn a_silent_connection_is_idle_and_closed_silently_at_the_idle_timeout() {
    let mut m = port();
    assert_eq!(m.activity(), Activity::Idle);
    assert!(m.wants_read());
    assert!(!m.wants_close());
    m.timed_out(Timeout::Idle, &at(120_000));
    assert!(m.wants_close());
    assert!(m.output().is_empty());
}

#[test]
fn a_preface_cut_short_by_the_read_side_closing_is_the_first_protocol() {
    let mut m = port();
    // The client half-closes inside the preface: HTTP/1.1 takes the bytes
    // and ends the connection as it would a cut request.
    m.received(&PREFACE[..3], &at(1));
    m.read_closed(&at(2));
    assert_eq!(m.is_second(), Some(false));
    assert!(m.next_request(&at(3)).is_none());
}

#[test]
fn shutdown_settles_an_undecided_connection() {
    let mut m = port();
    m.received(&PREFACE[..5], &at(1));
    m.shutdown(&at(2));
    assert_eq!(m.is_second(), Some(false));
}

#[test]
fn a_refused_connection_gets_the_first_protocols_refusal() {
    assert_eq!(<Port as Session>::REFUSAL, <Http1 as Session>::REFUSAL);
}
