//! The example services as child processes: built from this checkout
//! (into a target directory of their own, so the build does not wait on
//! the one running the tests), started, signalled, killed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Builds the example binaries once per test process and returns the path
/// of `name`.
///
/// # Panics
///
/// If the build fails.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = built.get_or_insert_with(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = root.join("target").join("examples-for-tests");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--quiet", "-p", "synkit-examples", "--bins"])
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the example binaries failed");
        target.join("debug")
    });
    dir.join(name)
}

/// An example service running as a child process; killed when dropped.
#[derive(Debug)]
pub struct Process {
    child: Child,
}

impl Process {
    /// Starts the example `name` with `args`, its stderr (the call log)
    /// appended to `log`.
    ///
    /// # Panics
    ///
    /// If it cannot be started.
    pub fn start(name: &str, args: &[&str], log: &std::path::Path) -> Process {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the log");
        let child = Command::new(binary(name))
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the example");
        Process { child }
    }

    /// Starts `command` (any program), its output discarded.
    ///
    /// # Panics
    ///
    /// If it cannot be started.
    pub fn start_command(command: &mut Command) -> Process {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the program");
        Process { child }
    }

    /// Sends it `signal` (`"KILL"`, `"TERM"`, `"STOP"`, `"CONT"`).
    ///
    /// # Panics
    ///
    /// If `kill` cannot be run.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for it to exit; whether it exited cleanly.
    pub fn wait(&mut self) -> bool {
        self.child.wait().is_ok_and(|s| s.success())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh scratch directory in the system's temporary directory, named
/// for `what`, this process and a counter.
///
/// # Panics
///
/// If it cannot be made.
pub fn scratch(what: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "synkit-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make a scratch directory");
    dir
}

/// Runs `curl -s args…` and returns what it printed.
///
/// # Panics
///
/// If curl cannot be run.
pub fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .arg("-s")
        .args(args)
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits up to a minute for the example at `addr` to answer `GET /health`.
///
/// # Panics
///
/// If it does not.
pub fn wait_healthy(addr: SocketAddr) {
    assert!(
        crate::registry::within(Duration::from_secs(60), || curl(&[&format!(
            "http://{addr}/health"
        )])
        .contains("ok")),
        "{addr} did not start"
    );
}
