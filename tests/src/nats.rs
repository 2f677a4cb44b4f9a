//! A real NATS server (Debian's `nats-server`) on a free loopback port,
//! killed when dropped; it can be killed and started again on the same
//! port, to test reconnection.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::gokit::free_addr;
use crate::registry::within;

/// A `nats-server` of the test's own.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    addr: SocketAddr,
}

impl NatsServer {
    /// Starts it and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If `nats-server` is not installed or does not come up within 10 s.
    pub fn start() -> NatsServer {
        crate::registry::require("nats-server", "nats-server");
        let mut server = NatsServer {
            child: None,
            addr: free_addr(),
        };
        server.launch();
        server
    }

    /// `nats://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn launch(&mut self) {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.addr.port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let addr = self.addr;
        assert!(
            within(Duration::from_secs(10), || TcpStream::connect(addr).is_ok()),
            "nats-server did not come up on {addr}"
        );
    }

    /// Kills it (SIGKILL: connections break with no goodbye).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    ///
    /// # Panics
    ///
    /// If it does not come up.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
