//! stringsvc's metrics read by a real Prometheus, linted by `promtool`,
//! and sent as StatsD to a UDP socket.

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use synkit_core::metrics::{Counter, Family, Histogram, Registry, prometheus};
use synkit_tests::examples::{Process, curl, scratch, wait_healthy};
use synkit_tests::gokit::free_addr;
use synkit_tests::registry::{Prometheus, within};

/// Runs `promtool check metrics` on `text`: its exit code and complaints.
fn promtool(text: &str) -> (i32, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (apt-get install prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), said)
}

#[test]
fn prometheus_scrapes_stringsvc_and_reads_its_counts_back() {
    let dir = scratch("metrics");
    let addr = free_addr();
    let _svc = Process::start(
        "stringsvc",
        &["--addr", &addr.to_string()],
        &dir.join("stringsvc.log"),
    );
    wait_healthy(addr);
    for _ in 0..7 {
        curl(&[
            "-XPOST",
            &format!("http://{addr}/uppercase"),
            "-d",
            r#"{"s":"hello"}"#,
        ]);
    }
    for _ in 0..2 {
        curl(&[
            "-XPOST",
            &format!("http://{addr}/uppercase"),
            "-d",
            r#"{"s":""}"#,
        ]);
    }
    curl(&[
        "-XPOST",
        &format!("http://{addr}/count"),
        "-d",
        r#"{"s":"hello, world"}"#,
    ]);

    let exposition = curl(&[&format!("http://{addr}/metrics")]);
    let prometheus = Prometheus::start(&[addr]);
    let ok = r#"my_group_string_service_request_count{method="uppercase",error="false"}"#;
    assert!(
        within(Duration::from_secs(30), || prometheus.query(ok)
            == Some(7.0)),
        "Prometheus never read 7 for {ok}: {:?}",
        prometheus.query(ok)
    );
    let failed = r#"my_group_string_service_request_count{method="uppercase",error="true"}"#;
    assert_eq!(prometheus.query(failed), Some(2.0));
    assert_eq!(
        prometheus.query("my_group_string_service_count_result_sum"),
        Some(12.0)
    );
    assert_eq!(
        prometheus
            .query(r#"my_group_string_service_request_latency_microseconds_count{method="count"}"#),
        Some(1.0)
    );

    // promtool finds nothing wrong with the format; its only complaints are
    // about the names Go kit's stringsvc2 chose (kept on purpose).
    let (code, said) = promtool(&exposition);
    let complaints: Vec<&str> = said.lines().collect();
    assert_eq!(
        complaints,
        [
            "my_group_string_service_request_count counter metrics should have \"_total\" suffix",
            "my_group_string_service_request_count non-histogram and non-summary metrics should not have \"_count\" suffix",
            "my_group_string_service_request_latency_microseconds use base unit \"seconds\" instead of \"microseconds\"",
        ],
        "exit {code}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn promtool_passes_conventional_names_and_escaped_label_values() {
    let registry = Registry::new();
    let requests = registry
        .counter(
            "synkit_requests_total",
            "Requests, \\ and \"quoted\".",
            &["path"],
        )
        .unwrap();
    for path in [
        "/plain",
        "/with \"quotes\"",
        "/new\nline",
        "/back\\slash",
        "/ünïcode",
    ] {
        requests.with(&[path]).unwrap().add(1.0);
    }
    let latency = registry
        .histogram(
            "synkit_request_duration_seconds",
            "Latency.",
            &[],
            &prometheus::DEFAULT_BUCKETS,
        )
        .unwrap();
    latency.with(&[]).unwrap().observe(0.2);
    registry
        .gauge("synkit_in_flight", "In flight.", &[])
        .unwrap();
    let mut text = String::new();
    prometheus::encode(&registry, &mut text).unwrap();
    assert_eq!(promtool(&text), (0, String::new()), "{text}");
}

#[test]
fn statsd_lines_reach_a_udp_socket_in_go_kits_format() {
    let dir = scratch("metrics");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = free_addr();
    let statsd = socket.local_addr().unwrap().to_string();
    let _svc = Process::start(
        "stringsvc",
        &["--addr", &addr.to_string(), "--statsd", &statsd],
        &dir.join("statsd.log"),
    );
    wait_healthy(addr);
    for _ in 0..3 {
        curl(&[
            "-XPOST",
            &format!("http://{addr}/uppercase"),
            "-d",
            r#"{"s":"hi"}"#,
        ]);
    }
    let mut lines = Vec::new();
    let mut buf = [0; 2048];
    while !lines
        .iter()
        .any(|l: &String| l.starts_with("my_group_string_service_request_count:"))
    {
        let n = socket.recv(&mut buf).expect("a StatsD packet within 10 s");
        assert!(n <= 1432, "a packet of {n} bytes");
        lines.extend(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_owned),
        );
    }
    assert!(
        lines.contains(&"my_group_string_service_request_count:3.000000|c".to_owned()),
        "{lines:?}"
    );
    let timings = lines
        .iter()
        .filter(|l| l.starts_with("my_group_string_service_request_latency_microseconds:"))
        .count();
    assert_eq!(timings, 3, "{lines:?}");
    for line in &lines {
        let (name, rest) = line.split_once(':').unwrap();
        let (value, kind) = rest.split_once('|').unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        assert!(
            value.parse::<f64>().is_ok() && value.split_once('.').unwrap().1.len() == 6,
            "{line}"
        );
        assert!(["c", "g", "ms"].contains(&kind), "{line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
