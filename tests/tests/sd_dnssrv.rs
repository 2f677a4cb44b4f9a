//! Service discovery by DNS SRV against a real dnsmasq: the set follows
//! the records, failures keep the last good set, and stringsvc3 balances
//! over what it finds.

use std::net::UdpSocket;
use std::time::Duration;

use synkit_core::sd::Instancer;
use synkit_tests::examples::{Process, curl, scratch};
use synkit_tests::gokit::free_addr;
use synkit_tests::registry::{Dnsmasq, within};
use synkit_transports::sd::dnssrv::{DnsError, DnsSrvInstancer, Resolver};

const NAME: &str = "_http._tcp.stringsvc.test";
const POLL: Duration = Duration::from_millis(100);

/// dnsmasq flags for an SRV record of NAME pointing at `host` (given
/// address `ip`) on `port`.
fn record(host: &str, ip: &str, port: u16) -> Vec<String> {
    vec![
        format!("--srv-host={NAME},{host}.stringsvc.test,{port}"),
        format!("--host-record={host}.stringsvc.test,{ip}"),
    ]
}

fn resolver(dns: &Dnsmasq) -> Resolver {
    Resolver::new(dns.addr(), Duration::from_millis(500))
}

fn instances(i: &impl Instancer) -> Vec<String> {
    i.state().instances.to_vec()
}

#[test]
fn the_set_follows_the_records() {
    let two = [
        record("b", "127.0.0.2", 8002),
        record("a", "127.0.0.1", 8001),
    ]
    .concat();
    let mut dns = Dnsmasq::start(&two);
    let instancer = DnsSrvInstancer::new(resolver(&dns), NAME, POLL);
    assert_eq!(instances(&instancer), ["127.0.0.1:8001", "127.0.0.2:8002"]);
    assert!(instancer.state().err.is_none());

    dns.restart(&record("b", "127.0.0.2", 8002));
    assert!(
        within(Duration::from_secs(5), || instances(&instancer)
            == ["127.0.0.2:8002"]),
        "{:?}",
        instancer.state()
    );
    assert!(instancer.state().err.is_none());
}

#[test]
fn failures_are_reported_beside_the_last_good_set() {
    let mut dns = Dnsmasq::start(&record("a", "127.0.0.1", 8001));
    let instancer = DnsSrvInstancer::new(resolver(&dns), NAME, POLL);
    assert_eq!(instances(&instancer), ["127.0.0.1:8001"]);
    let failed_with = |want: &str| {
        within(Duration::from_secs(5), || {
            instancer
                .state()
                .err
                .is_some_and(|e| e.to_string().contains(want))
        })
    };

    // The name still exists but offers no instance: zero usable records.
    dns.restart(&[format!("--srv-host={NAME}")]);
    assert!(failed_with("has no SRV records"), "{:?}", instancer.state());
    assert_eq!(instances(&instancer), ["127.0.0.1:8001"]);

    // The server gone.
    dns.stop();
    assert!(
        failed_with("cannot ask DNS server"),
        "{:?}",
        instancer.state()
    );
    assert_eq!(instances(&instancer), ["127.0.0.1:8001"]);

    // Back: the error clears.
    dns.restart(&record("c", "127.0.0.3", 8003));
    assert!(within(Duration::from_secs(5), || {
        let s = instancer.state();
        s.err.is_none() && *s.instances == ["127.0.0.3:8003".to_owned()]
    }));
}

#[test]
fn a_server_that_never_answers_times_out() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = Resolver::new(silent.local_addr().unwrap(), Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = resolver.lookup_srv(NAME).unwrap_err();
    assert_eq!(
        err,
        DnsError::Timeout(silent.local_addr().unwrap(), Duration::from_millis(300))
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        err.to_string().contains("did not answer within 300ms"),
        "{err}"
    );
}

#[test]
fn an_unknown_name_and_an_unresolvable_target_say_so() {
    let dns = Dnsmasq::start(
        &[
            record("a", "127.0.0.1", 8001),
            // A target with no address record stays a name.
            vec![format!("--srv-host={NAME},nowhere.stringsvc.test,8009")],
        ]
        .concat(),
    );
    let err = resolver(&dns)
        .lookup_srv("_nothing._tcp.stringsvc.test")
        .unwrap_err();
    assert!(
        err.to_string().contains("_nothing._tcp.stringsvc.test"),
        "{err}"
    );
    assert_eq!(
        resolver(&dns).lookup_srv(NAME).unwrap(),
        ["127.0.0.1:8001", "nowhere.stringsvc.test:8009"]
    );
}

#[test]
fn a_set_too_big_for_udp_comes_over_tcp() {
    let many: Vec<String> = (0..40u16)
        .flat_map(|i| record(&format!("host{i:02}"), &format!("127.0.1.{i}"), 9000 + i))
        .collect();
    let dns = Dnsmasq::start(&many);
    // Forty SRV records are far past a 512-byte UDP answer: all forty
    // arriving means the truncated answer was asked again over TCP.
    let found = resolver(&dns).lookup_srv(NAME).unwrap();
    let mut want: Vec<String> = (0..40)
        .map(|i| format!("127.0.1.{i}:{}", 9000 + i))
        .collect();
    want.sort();
    assert_eq!(found, want);
}

#[test]
fn stringsvc3_balances_over_what_dns_finds() {
    let dir = scratch("dnssrv");
    let a = free_addr();
    let b = free_addr();
    let _a = Process::start("stringsvc", &["--addr", &a.to_string()], &dir.join("a.log"));
    let _b = Process::start("stringsvc", &["--addr", &b.to_string()], &dir.join("b.log"));
    let dns = Dnsmasq::start(
        &[
            record("a", "127.0.0.1", a.port()),
            record("b", "127.0.0.1", b.port()),
        ]
        .concat(),
    );
    let front = free_addr();
    let _front = Process::start(
        "stringsvc3",
        &[
            "--addr",
            &front.to_string(),
            "--dns-srv",
            NAME,
            "--dns-server",
            &dns.addr().to_string(),
        ],
        &dir.join("front.log"),
    );
    let url = format!("http://{front}/uppercase");
    let call = || curl(&["-XPOST", &url, "-d", r#"{"s":"dns"}"#]) == "{\"v\":\"DNS\"}\n";
    assert!(
        within(Duration::from_secs(30), call),
        "stringsvc3 never answered"
    );
    for _ in 0..10 {
        assert!(call());
    }
    let served = |log: &str| {
        std::fs::read_to_string(dir.join(log))
            .unwrap_or_default()
            .matches("method=uppercase")
            .count()
    };
    // The call logs reach the files a moment later: they are buffered.
    assert!(
        within(Duration::from_secs(5), || served("a.log") >= 5
            && served("b.log") >= 5),
        "round robin over both"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
