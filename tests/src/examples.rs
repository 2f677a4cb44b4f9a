//! The example services as child processes: built from this checkout
//! (into a target directory of their own, so the build does not wait on
//! the one running the tests), started, signalled, killed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

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
