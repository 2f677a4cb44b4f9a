//! stringsvc3 proxying `uppercase` over a mix of synkit and Go kit
//! instances, surviving the death of one.

use std::sync::Arc;
use std::time::Duration;

use synkit_core::breaker::State;
use synkit_examples::stringsvc::proxy::ProxyingService;
use synkit_examples::stringsvc::transport::router;
use synkit_examples::stringsvc::{StringError, StringService, Strings};
use synkit_tests::gokit::GoServer;
use synkit_tests::wire::exchange;
use synkit_transports::http::server::{Server, ServerConfig};

#[test]
fn proxies_over_synkit_and_go_kit_and_routes_around_a_dead_instance() {
    let mut kit_a = GoServer::start("kitstringsvc");
    let kit_b = GoServer::start("kitstringsvc");
    let ours = Server::new(router(Strings))
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap();
    let list = format!("{},{},{}", kit_a.addr(), ours.local_addr(), kit_b.addr());
    let proxy = Arc::new(ProxyingService::fixed(Strings, &list).unwrap());

    for i in 0..30 {
        assert_eq!(
            proxy.uppercase(&format!("call {i}")),
            Ok(format!("CALL {i}"))
        );
    }
    assert_eq!(
        proxy.uppercase(""),
        Err(StringError::Empty),
        "the remote's business error comes back"
    );
    assert_eq!(proxy.count("local"), 5);
    assert!(proxy.breakers().iter().all(|(_, s)| *s == State::Closed));

    // The proxy itself, served over HTTP.
    let front = Server::new(router(Arc::clone(&proxy)))
        .bind("127.0.0.1:0", &ServerConfig::default())
        .unwrap();
    let got = exchange(
        front.local_addr(),
        b"POST /uppercase HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"s\":\"front\"}",
        Duration::from_secs(5),
    );
    assert!(
        got.text().ends_with("{\"v\":\"FRONT\"}\n"),
        "{}",
        got.text()
    );

    kit_a.kill();
    for i in 0..60 {
        assert_eq!(
            proxy.uppercase(&format!("after {i}")),
            Ok(format!("AFTER {i}")),
            "call {i} after the instance died"
        );
    }
    // Go kit's Endpointer orders instances by address: look each one up.
    let states = proxy.breakers();
    assert_eq!(states.len(), 3, "{states:?}");
    for (address, state) in &states {
        let want = if *address == kit_a.addr().to_string() {
            State::Open
        } else {
            State::Closed
        };
        assert_eq!(*state, want, "{address} in {states:?}");
    }

    front.shutdown(Duration::from_secs(1));
    ours.shutdown(Duration::from_secs(1));
}
