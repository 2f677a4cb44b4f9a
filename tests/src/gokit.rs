//! Go kit peers: our Go programs under `tests/go`, built against Debian's
//! Go kit in GOPATH mode, and run as child processes on loopback.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::wire::eventually;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the Go program `tests/go/src/<name>` once per test process and
/// returns the binary's path.
///
/// # Panics
///
/// If Go or Go kit is missing — with the packages to install — or the
/// program does not build.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(path) = built.get_or_insert_with(HashMap::new).get(name) {
        return path.clone();
    }
    let go_ok = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let kit = Path::new("/usr/share/gocode/src/github.com/go-kit/kit/transport/http");
    assert!(
        go_ok && kit.is_dir(),
        "the Go kit interop tests need Go and Go kit: apt-get install golang-go \
         golang-github-go-kit-kit-dev golang-github-go-kit-log-dev (tests/run installs them)"
    );
    let root = workspace();
    let out_dir = root.join("target").join("go-peers");
    std::fs::create_dir_all(&out_dir).expect("create target/go-peers");
    let out = out_dir.join(name);
    // A peer with protobuf definitions (tests/go/proto/NAME/PKG/*.proto)
    // gets their Go code generated first, into a GOPATH of its own, by
    // Debian's protoc and protoc-gen-go (plugins=grpc).
    let generated = out_dir.join("gen");
    let protos = root.join("tests").join("go").join("proto").join(name);
    if protos.is_dir() {
        generate_protos(&protos, &generated.join("src").join(name));
    }
    let gopath = format!(
        "{}:{}:/usr/share/gocode",
        generated.display(),
        root.join("tests").join("go").display()
    );
    let compile = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(format!("./src/{name}"))
        .current_dir(root.join("tests").join("go"))
        .env("GO111MODULE", "off")
        .env("GOPATH", gopath)
        .env("GOCACHE", out_dir.join("cache"))
        .env("GOFLAGS", "")
        .output()
        .expect("run go build");
    assert!(
        compile.status.success(),
        "building the Go peer {name} failed:\n{}",
        String::from_utf8_lossy(&compile.stderr)
    );
    built
        .get_or_insert_with(HashMap::new)
        .insert(name.to_owned(), out.clone());
    out
}

/// Runs protoc for every package directory under `protos`, writing the
/// Go code to the same package path under `out`.
fn generate_protos(protos: &Path, out: &Path) {
    for package in std::fs::read_dir(protos)
        .expect("read the proto directory")
        .flatten()
    {
        let dir = package.path();
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("read a proto package")
            .flatten()
            .map(|f| f.path())
            .filter(|p| p.extension().is_some_and(|e| e == "proto"))
            .collect();
        let target = out.join(package.file_name());
        std::fs::create_dir_all(&target).expect("create the generated package");
        let status = Command::new("protoc")
            .arg(format!("--go_out=plugins=grpc:{}", target.display()))
            .arg("-I")
            .arg(&dir)
            .args(&files)
            .status()
            .expect("run protoc (apt-get install protobuf-compiler golang-goprotobuf-dev)");
        assert!(status.success(), "protoc failed for {}", dir.display());
    }
}

/// A free loopback port (bound and released: good enough for tests).
///
/// # Panics
///
/// If no port can be bound.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
}

/// A Go peer server, killed when dropped.
#[derive(Debug)]
pub struct GoServer {
    child: Child,
    addr: SocketAddr,
}

impl GoServer {
    /// Starts `tests/go/src/<name>` listening on a free port and waits until
    /// it accepts connections.
    ///
    /// # Panics
    ///
    /// If it cannot be built or started, or does not listen within 10 s.
    pub fn start(name: &str) -> GoServer {
        let addr = free_addr();
        let child = Command::new(binary(name))
            .args(["-listen", &addr.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the Go peer");
        let server = GoServer { child, addr };
        assert!(
            eventually(Duration::from_secs(10), || TcpStream::connect(addr).is_ok()),
            "the Go peer {name} did not listen on {addr}"
        );
        server
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Kills it now (as a crashed instance would vanish).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its process id, for resource figures.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for GoServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the Go program `name` (built by [`binary`]) with `args` to its
/// end and returns what it printed, trimmed.
///
/// # Panics
///
/// If it cannot be built or run, or exits with an error (its stderr is
/// in the message).
pub fn run(name: &str, args: &[&str]) -> String {
    let out = Command::new(binary(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"));
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs Go kit's HTTP client (`kitcli`) once and returns what it printed.
///
/// # Panics
///
/// If the client cannot be built or run.
pub fn kitcli(base: SocketAddr, method: &str, body: &str) -> serde_json::Value {
    kitcli_with("POST", base, method, body)
}

/// As [`kitcli`], with the request sent with HTTP method `http_method`
/// (Go kit's stringsvc3 proxies with `GET` and a JSON body).
///
/// # Panics
///
/// As [`kitcli`].
pub fn kitcli_with(
    http_method: &str,
    base: SocketAddr,
    method: &str,
    body: &str,
) -> serde_json::Value {
    let out = Command::new(binary("kitcli"))
        .args([
            "-http-method",
            http_method,
            "-url",
            &format!("http://{base}"),
            "-method",
            method,
            "-body",
            body,
        ])
        .output()
        .expect("run kitcli");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "kitcli printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
