//! The bookinfo system as the README runs it: a real etcd, two
//! `bookinfo-server`s registering in it, the `bookinfo-client` finding
//! them, balancing and retrying over them, and one trace joining the
//! client's `bookCaller` span to the servers' spans at a Zipkin collector.

use std::process::Command;
use std::time::Duration;

use synkit_tests::examples::{Process, binary, scratch};
use synkit_tests::gokit::free_addr;
use synkit_tests::registry::{Etcd, within};
use synkit_tests::zipkin::Collector;

fn client(etcd: &str, zipkin: &str) -> (bool, String, String) {
    let out = Command::new(binary("bookinfo-client"))
        .args(["--etcd", etcd, "--zipkin-url", zipkin])
        .output()
        .expect("run bookinfo-client");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_client_finds_both_servers_and_one_trace_joins_them() {
    let etcd = Etcd::start();
    let collector = Collector::start();
    let dir = scratch("bookinfo");
    let (a, b) = (free_addr().to_string(), free_addr().to_string());
    let zipkin = collector.url();
    let start = |addr: &str, log: &str| {
        Process::start(
            "bookinfo-server",
            &[
                "--addr",
                addr,
                "--etcd",
                &etcd.url(),
                "--zipkin-url",
                &zipkin,
            ],
            &dir.join(log),
        )
    };
    let _one = start(&a, "a.log");
    let mut two = start(&b, "b.log");
    assert!(
        within(Duration::from_secs(10), || etcd
            .keys("/services/book/")
            .len()
            == 2),
        "both servers register: {:?}",
        etcd.keys("/services/book/")
    );
    let (ok, out, err) = client(&etcd.url(), &zipkin);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "{\"bookId\":1,\"bookName\":\"Go kit\"}\n{\"bookList\":[\"Go kit\",\"synkit\"]}\n"
    );
    // One trace: bookCaller, the client's two calls under it, and the
    // servers' spans sharing the calls' ids.
    assert!(within(Duration::from_secs(10), || collector.spans().len() >= 5));
    let spans = collector.spans();
    let caller = spans
        .iter()
        .find(|s| s["name"] == "bookCaller")
        .expect("a bookCaller span");
    let trace = caller["traceId"].clone();
    for (service, kind) in [("bookinfo-client", "CLIENT"), ("bookinfo-server", "SERVER")] {
        let of: Vec<_> = spans
            .iter()
            .filter(|s| s["localEndpoint"]["serviceName"] == service && s["kind"] == kind)
            .collect();
        assert_eq!(of.len(), 2, "{service}: {spans:?}");
        assert!(of.iter().all(|s| s["traceId"] == trace), "{spans:?}");
    }
    // One server goes (SIGTERM: it deregisters); the client still gets its
    // answers from the other.
    two.signal("TERM");
    assert!(two.wait());
    assert!(within(Duration::from_secs(10), || etcd
        .keys("/services/book/")
        .len()
        == 1));
    let (ok, out, err) = client(&etcd.url(), &zipkin);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("{\"bookId\":1,\"bookName\":\"Go kit\"}"),
        "{out}"
    );
}

#[test]
fn each_instance_is_a_hystrix_command_with_hystrix_gos_defaults() {
    use std::sync::Arc;
    use synkit_core::Context;
    use synkit_core::sd::{FixedInstancer, Instancer};
    use synkit_examples::bookinfo::BookClient;
    // An instance where nothing listens: every attempt fails at once.
    let dead = free_addr().to_string();
    let instancer: Arc<dyn Instancer> = Arc::new(FixedInstancer::new([dead]));
    let client = BookClient::new(&instancer, None);
    let cx = Context::background();
    // Three attempts a call: 20 failures fill the volume threshold on the
    // seventh call, and 100 % errors trip the breaker; the calls after it
    // are refused without dialling.
    let mut errors = Vec::new();
    for _ in 0..8 {
        errors.push(client.book_info(&cx, 1).expect_err("nothing to call"));
    }
    assert!(
        errors[..6]
            .iter()
            .all(|e| !e.contains("circuit breaker is open")),
        "{errors:?}"
    );
    assert!(
        errors[7].contains("circuit breaker is open"),
        "{:?}",
        errors[7]
    );
}
