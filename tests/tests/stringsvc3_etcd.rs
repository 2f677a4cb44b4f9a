//! stringsvc3 balancing over stringsvc instances that register themselves
//! in a real etcd: an instance killed under a steady stream of calls costs
//! no call, its key goes within its TTL, and it takes traffic again once
//! restarted; a stalled instance's lease expires and it registers again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use synkit_core::{Context, Endpoint};
use synkit_tests::examples::{Process, scratch};
use synkit_tests::gokit::free_addr;
use synkit_tests::registry::{Etcd, within};
use synkit_transports::http::Method;
use synkit_transports::http::client::{
    Client, ClientError, decode_json_response, encode_json_request,
};

const PREFIX: &str = "/services/stringsvc/";
const TTL: Duration = Duration::from_secs(3);
/// The client's least time per call: at most ~170 calls a second.
const PACE: Duration = Duration::from_millis(6);

/// A stringsvc registered in etcd, its call log in `log`.
fn instance(etcd: &Etcd, addr: &str, log: &Path) -> Process {
    Process::start(
        "stringsvc",
        &[
            "--addr",
            addr,
            "--etcd",
            &etcd.url(),
            "--register",
            "--ttl",
            "3",
        ],
        log,
    )
}

/// How many `uppercase` calls the instance logging to `log` has served.
fn served(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("method=uppercase")
        .count()
}

/// Calls stringsvc3's `uppercase` at `front` with `call {i}`: whether it
/// answered `CALL {i}`, or what it said instead.
fn uppercase(front: std::net::SocketAddr) -> impl Fn(u64) -> Result<(), String> + Sync {
    let client = Client::new(
        Method::POST,
        format!("http://{front}/uppercase").parse().unwrap(),
        encode_json_request::<serde_json::Value, ClientError>,
        decode_json_response::<serde_json::Value, ClientError>,
    );
    move |i| {
        let background = Context::background();
        let cx = background.with_timeout(Duration::from_secs(2));
        match client.call(&cx, serde_json::json!({ "s": format!("call {i}") })) {
            Ok(v) if v["v"] == format!("CALL {i}") => Ok(()),
            Ok(v) => Err(v.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[test]
fn killing_an_instance_under_load_fails_no_call_and_it_returns_when_restarted() {
    let etcd = Etcd::start();
    let dir = scratch("failover");
    let addrs: Vec<String> = (0..3).map(|_| free_addr().to_string()).collect();
    let logs: Vec<PathBuf> = (0..3)
        .map(|i| dir.join(format!("stringsvc{i}.log")))
        .collect();
    let mut instances: Vec<Process> = (0..3)
        .map(|i| instance(&etcd, &addrs[i], &logs[i]))
        .collect();
    assert!(
        within(Duration::from_secs(60), || etcd.keys(PREFIX).len() == 3),
        "three instances registered: {:?}",
        etcd.keys(PREFIX)
    );
    // Go kit's layout: key = prefix + address.
    let mut want: Vec<String> = addrs.iter().map(|a| format!("{PREFIX}{a}")).collect();
    want.sort();
    assert_eq!(etcd.keys(PREFIX), want);

    let front = free_addr();
    let _proxy = Process::start(
        "stringsvc3",
        &["--addr", &front.to_string(), "--etcd", &etcd.url()],
        &dir.join("stringsvc3.log"),
    );
    let call = uppercase(front);
    assert!(
        within(Duration::from_secs(30), || call(0).is_ok()),
        "stringsvc3 never answered"
    );

    // A closed-loop client, calling until told to stop, at most one call
    // per PACE: stringsvc3 allows each instance 100 calls a second (Go
    // kit's limiter), so two instances must carry the load of three.
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 1;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match call(i) {
                    Ok(()) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        failures.lock().unwrap().push((i, e));
                    }
                }
                i += 1;
                std::thread::sleep(PACE.saturating_sub(started.elapsed()));
            }
        });
        let total = || ok.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed);
        assert!(within(Duration::from_secs(60), || total() >= 1_000));
        assert!(
            logs.iter().all(|l| served(l) > 0),
            "every instance took calls"
        );

        instances[0].signal("KILL");
        let killed_at = Instant::now();
        let before_kill = total();
        let key = format!("{PREFIX}{}", addrs[0]);
        assert!(
            within(TTL + Duration::from_secs(2), || !etcd
                .keys(PREFIX)
                .contains(&key)),
            "the dead instance's key outlived its lease"
        );
        let key_gone_after = killed_at.elapsed();
        assert!(within(Duration::from_secs(120), || total() >= before_kill + 1_000));

        // Back on the same address: it registers and takes calls again.
        let served_before = served(&logs[0]);
        instances[0] = instance(&etcd, &addrs[0], &logs[0]);
        assert!(
            within(Duration::from_secs(30), || served(&logs[0])
                > served_before + 10),
            "traffic did not return to the restarted instance"
        );
        stop.store(true, Ordering::Relaxed);
        let total = total();
        eprintln!(
            "failover: {total} calls, {} failed; the killed instance's key went after {key_gone_after:?} (TTL {TTL:?})",
            failed.load(Ordering::Relaxed)
        );
        assert!(total >= 2_000, "{total} calls");
        assert!(
            key_gone_after <= TTL + Duration::from_secs(1),
            "{key_gone_after:?}"
        );
    });
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "failed calls: {:?}",
        failures.lock().unwrap()
    );

    // SIGTERM deregisters before the server stops.
    instances[1].signal("TERM");
    assert!(instances[1].wait(), "stringsvc exits cleanly on SIGTERM");
    assert!(!etcd.keys(PREFIX).contains(&format!("{PREFIX}{}", addrs[1])));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stalled_instance_loses_its_lease_and_registers_again() {
    let etcd = Etcd::start();
    let dir = scratch("stall");
    let addr = free_addr().to_string();
    let key = format!("{PREFIX}{addr}");
    let stalled = instance(&etcd, &addr, &dir.join("stringsvc.log"));
    assert!(within(Duration::from_secs(60), || etcd.keys(PREFIX)
        == [key.clone()]));
    // Frozen past its TTL, its heartbeat stops and etcd lets the lease go.
    stalled.signal("STOP");
    assert!(
        within(TTL + Duration::from_secs(2), || etcd
            .keys(PREFIX)
            .is_empty()),
        "the lease outlived the stall"
    );
    stalled.signal("CONT");
    assert!(
        within(Duration::from_secs(5), || etcd.keys(PREFIX)
            == [key.clone()]),
        "the instance did not register again"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
