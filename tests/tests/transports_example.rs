//! The examples over every transport, as the README runs them: addsvc
//! serving HTTP, JSON-RPC and net/rpc at once (on its default ports, and
//! each turned off), stringsvc also over JSON-RPC, net/rpc and NATS, and
//! stringcli calling each with `--transport`.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use synkit_tests::examples::{Process, binary, scratch};
use synkit_tests::gokit::free_addr;
use synkit_tests::nats::NatsServer;
use synkit_tests::registry::within;

fn listening(addr: SocketAddr) -> bool {
    within(Duration::from_secs(10), || TcpStream::connect(addr).is_ok())
}

/// stringcli's stdout, or `error: …` from its stderr.
fn cli(args: &[&str]) -> String {
    let out = Command::new(binary("stringcli"))
        .args(["--timeout-ms", "3000"])
        .args(args)
        .output()
        .expect("run stringcli");
    let text = if out.status.success() {
        out.stdout
    } else {
        out.stderr
    };
    String::from_utf8_lossy(&text).trim().to_owned()
}

#[test]
fn addsvc_serves_every_transport_and_stringcli_calls_each() {
    let dir = scratch("addsvc");
    let (http, jsonrpc, netrpc) = (free_addr(), free_addr(), free_addr());
    let (h, j, n) = (http.to_string(), jsonrpc.to_string(), netrpc.to_string());
    let g = free_addr().to_string();
    let _addsvc = Process::start(
        "addsvc",
        &[
            "--http-addr",
            &h,
            "--jsonrpc-addr",
            &j,
            "--netrpc-addr",
            &n,
            "--grpc-addr",
            &g,
        ],
        &dir.join("addsvc.log"),
    );
    assert!(listening(http) && listening(jsonrpc) && listening(netrpc));
    let http_url = format!("http://{h}");
    let jsonrpc_url = format!("http://{j}");
    assert_eq!(cli(&["--url", &http_url, "sum", "1", "2"]), "3");
    assert_eq!(
        cli(&[
            "--transport",
            "jsonrpc",
            "--url",
            &jsonrpc_url,
            "sum",
            "2",
            "3"
        ]),
        "5"
    );
    assert_eq!(
        cli(&[
            "--transport",
            "jsonrpc",
            "--url",
            &jsonrpc_url,
            "concat",
            "a",
            "b"
        ]),
        "ab"
    );
    assert_eq!(
        cli(&["--transport", "grpc", "--url", &g, "sum", "20", "22"]),
        "42"
    );
    assert_eq!(
        cli(&["--transport", "grpc", "--url", &g, "concat", "g", "rpc"]),
        "grpc"
    );
    assert_eq!(
        cli(&["--transport", "grpc", "--url", &g, "sum", "0", "0"]),
        "error: can't sum two zeroes"
    );
    for codec in ["gob", "json", "http"] {
        let args = [
            "--transport",
            "netrpc",
            "--netrpc-codec",
            codec,
            "--url",
            &n,
        ];
        assert_eq!(
            cli(&[&args[..], &["sum", "3", "4"]].concat()),
            "7",
            "{codec}"
        );
        assert_eq!(
            cli(&[&args[..], &["concat", "x", "y"]].concat()),
            "xy",
            "{codec}"
        );
        assert_eq!(
            cli(&[&args[..], &["sum", "0", "0"]].concat()),
            "error: can't sum two zeroes",
            "{codec}"
        );
    }
}

#[test]
fn addsvc_listens_on_go_kits_ports_unless_told_off() {
    let dir = scratch("addsvc-defaults");
    let defaults: [SocketAddr; 4] = [
        "127.0.0.1:8081",
        "127.0.0.1:8084",
        "127.0.0.1:8085",
        "127.0.0.1:8082",
    ]
    .map(|a| a.parse().unwrap());
    assert!(
        defaults.iter().all(|a| TcpStream::connect(a).is_err()),
        "something else already listens on 8081, 8082, 8084 or 8085"
    );
    {
        let _addsvc = Process::start("addsvc", &[], &dir.join("all.log"));
        assert!(defaults.iter().all(|a| listening(*a)));
        assert_eq!(
            cli(&["--url", "http://127.0.0.1:8081", "sum", "1", "2"]),
            "3"
        );
        assert_eq!(cli(&["--transport", "jsonrpc", "sum", "1", "2"]), "3");
        assert_eq!(cli(&["--transport", "netrpc", "sum", "1", "2"]), "3");
    }
    assert!(within(Duration::from_secs(5), || defaults
        .iter()
        .all(|a| TcpStream::connect(a).is_err())));
    // JSON-RPC and net/rpc off: only HTTP listens.
    let mut addsvc = Process::start(
        "addsvc",
        &[
            "--jsonrpc-addr",
            "off",
            "--netrpc-addr",
            "off",
            "--grpc-addr",
            "off",
        ],
        &dir.join("http-only.log"),
    );
    assert!(listening(defaults[0]));
    assert!(defaults[1..].iter().all(|a| TcpStream::connect(a).is_err()));
    addsvc.signal("TERM");
    assert!(addsvc.wait(), "a clean exit on SIGTERM");
}

#[test]
fn stringsvc_serves_over_nats_jsonrpc_and_netrpc() {
    let nats = NatsServer::start();
    let dir = scratch("stringsvc-transports");
    let (http, jsonrpc, netrpc) = (free_addr(), free_addr(), free_addr());
    let (h, j, n) = (http.to_string(), jsonrpc.to_string(), netrpc.to_string());
    let url = nats.url();
    let log = dir.join("stringsvc.log");
    let _one = Process::start(
        "stringsvc",
        &[
            "--addr",
            &h,
            "--jsonrpc-addr",
            &j,
            "--netrpc-addr",
            &n,
            "--nats",
            &url,
        ],
        &log,
    );
    assert!(listening(http) && listening(jsonrpc) && listening(netrpc));
    let jsonrpc_url = format!("http://{j}");
    assert_eq!(
        cli(&[
            "--transport",
            "jsonrpc",
            "--url",
            &jsonrpc_url,
            "uppercase",
            "rpc"
        ]),
        "RPC"
    );
    assert_eq!(
        cli(&["--transport", "netrpc", "--url", &n, "count", "héllo"]),
        "6"
    );
    assert_eq!(
        cli(&["--transport", "netrpc", "--url", &n, "uppercase", ""]),
        "error: empty string"
    );
    // NATS: stringcli, and Go's own client, with the HTTP bodies.
    assert!(within(Duration::from_secs(10), || cli(&[
        "--transport",
        "nats",
        "--url",
        &url,
        "uppercase",
        "nats"
    ]) == "NATS"));
    assert_eq!(
        cli(&["--transport", "nats", "--url", &url, "count", "four"]),
        "4"
    );
    let go = Command::new(synkit_tests::gokit::binary("natspeer"))
        .args([
            "-url",
            &url,
            "-subject",
            "stringsvc.uppercase",
            "-data",
            r#"{"s":"from go"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&go.stdout).trim(),
        r#"{"v":"FROM GO"}"#
    );
    // A second instance joins the queue group: the two share the calls.
    let (h2, log2) = (free_addr().to_string(), dir.join("second.log"));
    let _two = Process::start("stringsvc", &["--addr", &h2, "--nats", &url], &log2);
    assert!(
        within(Duration::from_secs(10), || {
            for i in 0..20 {
                cli(&[
                    "--transport",
                    "nats",
                    "--url",
                    &url,
                    "uppercase",
                    &format!("q{i}"),
                ]);
            }
            std::fs::read_to_string(&log2).is_ok_and(|l| l.contains("input=q"))
        }),
        "the second instance never served a call"
    );
}
