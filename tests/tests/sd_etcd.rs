//! Service discovery on a real etcd: Go kit's key layout both ways, the
//! watch through restarts and compaction, a registry down at start, a lost
//! lease, and gateway replies that make no sense.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use synkit_core::sd::{DiscoveryError, Endpointer, Instancer, Registrar};
use synkit_tests::registry::{Etcd, within};
use synkit_transports::sd::etcd::{Client, EtcdInstancer, EtcdRegistrar, Service, TtlOption};

const PREFIX: &str = "/services/stringsvc/";

fn instances(i: &impl Instancer) -> Vec<String> {
    i.state().instances.to_vec()
}

fn client(etcd: &Etcd) -> Arc<Client> {
    Arc::new(Client::new([etcd.url()]))
}

/// An endpointer whose endpoints are their instance strings.
fn endpointer(instancer: Arc<dyn Instancer>) -> Endpointer<String> {
    Endpointer::new(instancer, |s: &str| Ok::<_, DiscoveryError>(s.to_owned()))
}

fn names(e: &Endpointer<String>) -> Result<Vec<String>, String> {
    e.endpoints()
        .map(|set| set.iter().map(|s| String::clone(s)).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn go_kits_key_layout_is_read_and_written() {
    let etcd = Etcd::start();
    // Written as Go kit's etcdv3 registrar writes it: key = prefix + address.
    etcd.ctl(&["put", &format!("{PREFIX}10.0.0.1:8080"), "10.0.0.1:8080"]);
    etcd.ctl(&["put", "/services/other/10.0.0.9:1", "10.0.0.9:1"]);
    let instancer = Arc::new(EtcdInstancer::new(client(&etcd), PREFIX));
    assert_eq!(instances(&*instancer), ["10.0.0.1:8080"]);

    let registrar = EtcdRegistrar::new(
        client(&etcd),
        Service::under(PREFIX, "10.0.0.2:8081"),
        TtlOption::new(Duration::from_secs(1), Duration::from_secs(5)),
    );
    registrar.register().unwrap();
    let lease = registrar.lease().expect("registered under a lease");
    // Read back with Go kit's tools: the key, then the value.
    assert_eq!(
        etcd.ctl(&["get", &format!("{PREFIX}10.0.0.2:8081")]),
        format!("{PREFIX}10.0.0.2:8081\n10.0.0.2:8081\n")
    );
    let leases = etcd.ctl(&["lease", "list"]);
    assert!(leases.contains(&format!("{lease:x}")), "{leases}");
    assert!(within(Duration::from_secs(5), || instances(&*instancer)
        .len()
        == 2));
    assert_eq!(instances(&*instancer), ["10.0.0.1:8080", "10.0.0.2:8081"]);

    // Deregistering deletes the key and revokes the lease.
    registrar.deregister().unwrap();
    assert_eq!(etcd.keys(PREFIX), [format!("{PREFIX}10.0.0.1:8080")]);
    assert!(!etcd.ctl(&["lease", "list"]).contains(&format!("{lease:x}")));
    assert!(within(Duration::from_secs(5), || instances(&*instancer)
        .len()
        == 1));
}

#[test]
fn the_watch_converges_after_etcd_restarts_with_changes_it_missed() {
    let mut etcd = Etcd::start();
    etcd.ctl(&["put", &format!("{PREFIX}a:1"), "a:1"]);
    etcd.ctl(&["put", &format!("{PREFIX}b:1"), "b:1"]);
    let instancer = Arc::new(EtcdInstancer::new(client(&etcd), PREFIX));
    let endpoints = endpointer(instancer.clone());
    assert_eq!(names(&endpoints).unwrap(), ["a:1", "b:1"]);

    etcd.kill();
    assert!(
        within(Duration::from_secs(10), || instancer.state().err.is_some()),
        "the instancer never noticed etcd go"
    );
    let down = instancer.state();
    assert_eq!(&*down.instances, ["a:1", "b:1"], "the last good set stays");
    let err = down.err.unwrap().to_string();
    assert!(err.contains("etcd cannot be reached"), "{err}");
    // Go kit's rule: the endpointer keeps serving the last good set.
    assert_eq!(names(&endpoints).unwrap(), ["a:1", "b:1"]);
    // Long enough for the instancer's backoff to grow past a second.
    std::thread::sleep(Duration::from_secs(3));

    // Back, and changed before the instancer looks again; the history it
    // would watch from is compacted away, so only a fresh read sees it.
    etcd.restart();
    etcd.ctl(&["put", &format!("{PREFIX}c:1"), "c:1"]);
    etcd.ctl(&["del", &format!("{PREFIX}a:1")]);
    let status = etcd.ctl(&["put", "/compact-me", "x", "-w", "json"]);
    let revision =
        serde_json::from_str::<serde_json::Value>(&status).unwrap()["header"]["revision"]
            .as_i64()
            .unwrap();
    etcd.ctl(&["compact", &revision.to_string()]);

    assert!(
        within(Duration::from_secs(10), || {
            let s = instancer.state();
            s.err.is_none() && *s.instances == ["b:1".to_owned(), "c:1".to_owned()]
        }),
        "did not converge: {:?}",
        instancer.state()
    );
    assert_eq!(names(&endpoints).unwrap(), ["b:1", "c:1"]);
    // And it watches on from there.
    etcd.ctl(&["put", &format!("{PREFIX}d:1"), "d:1"]);
    assert!(within(Duration::from_secs(5), || instances(&*instancer)
        .len()
        == 3));
}

#[test]
fn etcd_down_at_start_is_an_error_until_it_comes_up() {
    let mut etcd = Etcd::start();
    etcd.kill();
    let instancer = Arc::new(EtcdInstancer::new(client(&etcd), PREFIX));
    let state = instancer.state();
    assert!(state.instances.is_empty());
    let err = state.err.expect("an error, not an empty set").to_string();
    assert!(err.contains("etcd cannot be reached"), "{err}");
    let endpoints = endpointer(instancer.clone());
    assert!(names(&endpoints).unwrap_err().contains("cannot be reached"));

    etcd.restart();
    etcd.ctl(&["put", &format!("{PREFIX}a:1"), "a:1"]);
    assert!(
        within(Duration::from_secs(10), || names(&endpoints)
            .is_ok_and(|n| n == ["a:1"])),
        "{:?}",
        instancer.state()
    );
}

#[test]
fn a_lost_lease_is_registered_again() {
    let etcd = Etcd::start();
    let registrar = EtcdRegistrar::new(
        client(&etcd),
        Service::under(PREFIX, "10.0.0.3:80"),
        TtlOption::new(Duration::from_millis(500), Duration::from_secs(2)),
    );
    registrar.register().unwrap();
    let first = registrar.lease().unwrap();
    // Revoked from outside, as an expiry would end it: the key goes too.
    etcd.ctl(&["lease", "revoke", &format!("{first:x}")]);
    assert!(etcd.keys(PREFIX).is_empty());
    // The key can be seen a moment before the registrar records its new
    // lease: wait for both.
    assert!(
        within(Duration::from_secs(3), || {
            etcd.keys(PREFIX).len() == 1 && registrar.lease() != Some(first)
        }),
        "the registrar did not register again"
    );
    let second = registrar.lease().unwrap();
    assert_ne!(first, second);
    // Kept alive past several TTLs.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(etcd.keys(PREFIX), [format!("{PREFIX}10.0.0.3:80")]);
    assert_eq!(registrar.lease(), Some(second));
    drop(registrar);
    assert!(etcd.keys(PREFIX).is_empty(), "dropping deregisters");
}

/// A server that answers every request with `status` and `body`: what a
/// broken proxy or a wrong port in front of etcd would say.
fn answering(status: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    url
}

#[test]
fn gateway_replies_that_make_no_sense_are_clear_errors() {
    let cases = [
        (
            "200 OK",
            "<html>hi</html>",
            "etcd's reply makes no sense: /v3/kv/range reply",
        ),
        (
            "200 OK",
            r#"{"header":{"revision":"two"}}"#,
            "etcd's reply makes no sense",
        ),
        (
            "200 OK",
            r#"{"header":{},"kvs":[{"key":"%%"}]}"#,
            "etcd's reply makes no sense",
        ),
        (
            "503 Service Unavailable",
            r#"{"error":"x","message":"etcdserver: too many requests","code":8}"#,
            "etcd refused: etcdserver: too many requests",
        ),
        (
            "404 Not Found",
            "not found",
            "etcd's reply makes no sense: HTTP 404",
        ),
    ];
    for (status, body, want) in cases {
        let client = Arc::new(Client::new([answering(status, body)]));
        let instancer = EtcdInstancer::new(client, PREFIX);
        let err = instancer.state().err.expect("an error").to_string();
        assert!(err.starts_with(want), "{err:?} for {status} {body}");
    }
}
