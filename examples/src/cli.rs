//! The flags every example server takes: `--addr HOST:PORT` (default
//! `127.0.0.1:8080`), `--workers N` (default: the server's; 0 runs
//! endpoints inline on the event loops) and `--event-loops N` (default:
//! one per core inline, one with workers); stringsvc3 also takes
//! `--proxy HOST:PORT,...`.

use synkit_transports::http::server::{Server, ServerConfig, Service};

/// Parsed command-line flags.
#[derive(Clone, Debug)]
pub struct Args {
    /// Where to listen.
    pub addr: String,
    /// The server configuration, with `--workers` applied.
    pub config: ServerConfig,
    /// `--proxy host:port,host:port`: instances to proxy to (stringsvc3).
    pub proxy: Option<String>,
}

/// Parses the process's arguments; prints usage and exits on a bad one.
pub fn parse() -> Args {
    let mut args = Args {
        addr: "127.0.0.1:8080".into(),
        config: ServerConfig::default(),
        proxy: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match (flag.as_str(), it.next()) {
            ("--addr", Some(v)) => args.addr = v,
            ("--proxy", Some(v)) => args.proxy = Some(v),
            ("--workers", Some(v)) => match v.parse() {
                Ok(n) => args.config.workers = n,
                Err(_) => usage(&format!("--workers takes a number, not {v:?}")),
            },
            ("--event-loops", Some(v)) => match v.parse() {
                Ok(n) => args.config.event_loops = n,
                Err(_) => usage(&format!("--event-loops takes a number, not {v:?}")),
            },
            _ => usage(&format!("unknown or incomplete flag {flag:?}")),
        }
    }
    args
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: [--addr HOST:PORT] [--workers N] [--event-loops N] [--proxy HOST:PORT,...]"
    );
    std::process::exit(2);
}

/// How long in-flight requests get to finish after SIGINT or SIGTERM.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves `service` on `args.addr`, announcing `name` and the address on
/// stdout, until SIGINT or SIGTERM; then shuts down gracefully (requests
/// in flight get [`SHUTDOWN_GRACE`] to finish) and exits. Exits with a
/// message if it cannot listen.
pub fn serve(name: &str, args: Args, service: impl Service) -> ! {
    let mut signals = match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("{name} cannot watch for signals: {e}");
            std::process::exit(1);
        }
    };
    let server = match Server::new(args.config).bind(args.addr.as_str(), service) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("{name} cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    println!("{name} listening on http://{}", server.local_addr());
    if let Some(signal) = signals.forever().next() {
        eprintln!("{name} got signal {signal}; finishing requests in flight");
    }
    server.shutdown(SHUTDOWN_GRACE);
    std::process::exit(0);
}
