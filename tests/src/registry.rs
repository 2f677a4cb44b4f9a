//! Real registries for the service-discovery tests: an etcd server and a
//! dnsmasq DNS server, each started on free loopback ports in a scratch
//! directory, killed and cleaned up when dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::examples::scratch;
use crate::gokit::free_addr;
use crate::wire::eventually;

/// Panics saying which Debian package gives `program`, if it is missing.
pub(crate) fn require(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{program} is missing: install it with `sudo apt-get install -y {package}` (tests/run does)"
    );
}

/// An etcd server of its own (Debian's `etcd-server`), with `etcdctl`
/// (`etcd-client`) to look at it as Go kit users would.
#[derive(Debug)]
pub struct Etcd {
    child: Option<Child>,
    dir: PathBuf,
    client: SocketAddr,
    peer: SocketAddr,
}

impl Etcd {
    /// Starts etcd on free ports and waits until it answers.
    ///
    /// # Panics
    ///
    /// If etcd is not installed or does not come up within 20 s.
    pub fn start() -> Etcd {
        require("etcd", "etcd-server");
        require("etcdctl", "etcd-client");
        let mut etcd = Etcd {
            child: None,
            dir: scratch("etcd"),
            client: free_addr(),
            peer: free_addr(),
        };
        etcd.launch();
        etcd
    }

    /// The client URL, `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.client)
    }

    fn launch(&mut self) {
        let client = self.url();
        let peer = format!("http://{}", self.peer);
        let log = std::fs::File::create(self.dir.join("etcd.log")).expect("etcd log");
        let child = Command::new("etcd")
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .args(["--name", "default"])
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("default={peer}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        self.child = Some(child);
        assert!(
            eventually(Duration::from_secs(20), || self.healthy()),
            "etcd did not come up on {client}; see {}",
            self.dir.join("etcd.log").display()
        );
    }

    fn healthy(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(self.client) else {
            std::thread::sleep(Duration::from_millis(20));
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let request = "GET /health HTTP/1.1\r\nHost: etcd\r\nConnection: close\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply.contains("\"health\":\"true\"")
    }

    /// Kills etcd at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Runs `etcdctl --endpoints URL args…` and returns what it printed.
    ///
    /// # Panics
    ///
    /// If etcdctl fails.
    pub fn ctl(&self, args: &[&str]) -> String {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url()])
            .args(args)
            .output()
            .expect("run etcdctl");
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The keys under `prefix`, as `etcdctl get --prefix --keys-only` lists
    /// them.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.ctl(&["get", "--prefix", "--keys-only", prefix])
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A dnsmasq DNS server (Debian's `dnsmasq-base`) answering only from its
/// flags: no upstream, no hosts file.
#[derive(Debug)]
pub struct Dnsmasq {
    child: Option<Child>,
    addr: SocketAddr,
}

/// A loopback port free for both UDP and TCP.
fn free_dns_port() -> SocketAddr {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
        let addr = udp.local_addr().expect("UDP address");
        if TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
}

impl Dnsmasq {
    /// Starts dnsmasq with `records` (dnsmasq flags such as
    /// `--srv-host=…` and `--host-record=…`) and waits until it answers.
    ///
    /// # Panics
    ///
    /// If dnsmasq is not installed or does not come up within 10 s.
    pub fn start(records: &[String]) -> Dnsmasq {
        require("dnsmasq", "dnsmasq-base");
        let mut dns = Dnsmasq {
            child: None,
            addr: free_dns_port(),
        };
        dns.launch(records);
        dns
    }

    /// Where it answers (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn launch(&mut self, records: &[String]) {
        let child = Command::new("dnsmasq")
            .args([
                "--no-daemon",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
            ])
            .args([
                "--listen-address=127.0.0.1",
                "--pid-file=",
                "--log-facility=-",
            ])
            .arg(format!("--port={}", self.addr.port()))
            .args(records)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        self.child = Some(child);
        let addr = self.addr;
        assert!(
            eventually(Duration::from_secs(10), || TcpStream::connect(addr).is_ok()),
            "dnsmasq did not come up on {addr}"
        );
    }

    /// Restarts it with new `records` on the same port.
    pub fn restart(&mut self, records: &[String]) {
        self.stop();
        self.launch(records);
    }

    /// Stops it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `done` every 10 ms until it holds or `limit` passes; true if it
/// held. For conditions that take a network round trip to check.
pub fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

/// A Prometheus server (Debian's `prometheus`) scraping `targets` every
/// second, on a free port, with its data in a scratch directory.
#[derive(Debug)]
pub struct Prometheus {
    child: Option<Child>,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port`, path `/metrics`)
    /// and waits until it is ready.
    ///
    /// # Panics
    ///
    /// If Prometheus is not installed or not ready within 30 s.
    pub fn start(targets: &[SocketAddr]) -> Prometheus {
        require("prometheus", "prometheus");
        let dir = scratch("prometheus");
        let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: synkit\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        );
        std::fs::write(dir.join("prometheus.yml"), config).expect("write the config");
        let addr = free_addr();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            child: Some(child),
            dir,
            addr,
        };
        assert!(
            within(Duration::from_secs(30), || prometheus
                .get("/-/ready")
                .is_some_and(|r| r.contains("Ready"))),
            "prometheus did not become ready; see {}",
            prometheus.dir.join("prometheus.log").display()
        );
        prometheus
    }

    /// `GET path` on Prometheus's HTTP API: the body, if it answered 200.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(self.addr).ok()?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: prometheus\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).ok()?;
        let (head, body) = reply.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
    }

    /// The value of the instant query `promql` (one series), if it has one.
    pub fn query(&self, promql: &str) -> Option<f64> {
        let mut encoded = String::new();
        for b in promql.bytes() {
            if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
                encoded.push(char::from(b));
            } else {
                let _ = std::fmt::Write::write_fmt(&mut encoded, format_args!("%{b:02X}"));
            }
        }
        let body = self.get(&format!("/api/v1/query?query={encoded}"))?;
        // A chunked body: the JSON object is between the first '{' and the last '}'.
        let json = &body[body.find('{')?..=body.rfind('}')?];
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
