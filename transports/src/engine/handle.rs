//! The handle every server on the engine returns: HTTP, gRPC and net/rpc
//! alike.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::{Running, Stats};

/// A running server: where it listens, its counters, and the way to stop
/// it. Every server on the engine returns one (`http::server::Server`,
/// `grpc::Server`, `netrpc::Server`), and each behaves the same: the
/// server runs until the handle is [`shutdown`](Self::shutdown),
/// [`stop`](Self::stop)ped or dropped — dropping it stops the server as
/// `stop` does, so a server never outlives what owns it unnoticed.
///
/// ```no_run
/// use std::time::Duration;
/// use synkit_transports::http::server::{Server, ServerConfig, service_fn};
///
/// let hello = service_fn(|_cx, _req, resp| resp.body_mut().extend_from_slice(b"hello\n"));
/// let server = Server::new(hello).bind("127.0.0.1:0", &ServerConfig::default())?;
/// println!("listening on {}", server.local_addr());
/// // Requests begun get five seconds to finish.
/// server.shutdown(Duration::from_secs(5));
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "dropping the handle stops the server"]
pub struct Handle {
    local_addr: SocketAddr,
    running: Running,
}

impl Handle {
    pub(crate) fn new(local_addr: SocketAddr, running: Running) -> Handle {
        Handle {
            local_addr,
            running,
        }
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's counters.
    pub fn stats(&self) -> &Stats {
        &self.running.shared.stats
    }

    /// Stops gracefully: stops accepting at once, lets requests already
    /// begun (their first byte has arrived) be read, served and answered
    /// for up to `grace`, closes idle connections (HTTP/2 and gRPC with a
    /// GOAWAY), then closes the rest, cancels the contexts of requests
    /// still running, and joins every thread — so it returns once those
    /// requests' endpoints notice the cancellation and return.
    pub fn shutdown(mut self, grace: Duration) {
        self.running.shutdown(grace);
    }

    /// Stops at once: [`shutdown`](Self::shutdown) with no grace.
    pub fn stop(self) {
        self.shutdown(Duration::ZERO);
    }

    /// Blocks while the server runs: for a program whose work is serving,
    /// until the process ends.
    pub fn wait(mut self) {
        self.running.wait();
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if !self.running.ended() {
            self.running.shutdown(Duration::ZERO);
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}
