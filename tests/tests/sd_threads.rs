//! Discovery backends leave no thread behind: every instancer's and
//! registrar's thread ends once it is dropped, even with its registry
//! gone. (Its own binary: it counts every thread of the process.)

use std::sync::Arc;
use std::time::Duration;

use synkit_core::sd::Registrar;
use synkit_tests::registry::{Dnsmasq, Etcd, within};
use synkit_transports::sd::dnssrv::{DnsSrvInstancer, Resolver};
use synkit_transports::sd::etcd::{
    Client, ClientOptions, EtcdInstancer, EtcdRegistrar, Service, TtlOption,
};

/// Threads of this process whose name starts with `prefix`.
fn threads(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|name| name.starts_with(prefix))
        })
        .count()
}

#[test]
fn dropped_instancers_and_registrars_end_their_threads() {
    let mut etcd = Etcd::start();
    let options = ClientOptions {
        watch_idle: Duration::from_millis(500),
        ..ClientOptions::default()
    };
    let client = Arc::new(Client::with_options([etcd.url()], options));
    let registrar = EtcdRegistrar::new(
        client.clone(),
        Service::under("/t/", "a:1"),
        TtlOption::new(Duration::from_millis(500), Duration::from_secs(2)),
    );
    registrar.register().unwrap();
    let watching: Vec<_> = (0..3)
        .map(|_| EtcdInstancer::new(client.clone(), "/t/"))
        .collect();
    let mut dns = Dnsmasq::start(&["--srv-host=_x._tcp.t,a.t,1".to_owned()]);
    let polling: Vec<_> = (0..3)
        .map(|_| {
            let resolver = Resolver::new(dns.addr(), Duration::from_millis(200));
            DnsSrvInstancer::new(resolver, "_x._tcp.t", Duration::from_millis(50))
        })
        .collect();
    // A new thread names itself as it starts: wait for the names.
    assert!(
        within(Duration::from_secs(3), || {
            threads("synkit-etcd-wat") == 3
                && threads("synkit-etcd-hea") == 1
                && threads("synkit-dnssrv") == 3
        }),
        "expected 3 watch, 1 heartbeat and 3 dnssrv threads"
    );

    // The registries go first: threads that are failing end too.
    etcd.kill();
    dns.stop();
    std::thread::sleep(Duration::from_millis(300));
    drop(watching);
    drop(polling);
    drop(registrar);
    assert!(
        within(Duration::from_secs(3), || threads("synkit-") == 0),
        "threads left: etcd watch {}, heartbeat {}, dnssrv {}",
        threads("synkit-etcd-wat"),
        threads("synkit-etcd-hea"),
        threads("synkit-dnssrv")
    );
}
