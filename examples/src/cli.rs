//! The flags every example server takes: `--addr HOST:PORT` (default
//! `127.0.0.1:8080`), `--workers N` (default: the server's; 0 runs
//! endpoints inline on the event loops) and `--event-loops N` (default:
//! one per core inline, one with workers), `--queue-capacity N` (requests
//! waiting for a worker before new ones are refused; default 256); and the
//! service-discovery
//! flags of [`discovery`](crate::discovery): `--etcd URL`,
//! `--etcd-prefix PREFIX`, `--register`, `--ttl SECONDS` to register in
//! etcd; stringsvc3 finds its instances with `--proxy HOST:PORT,...`,
//! `--etcd URL` or `--dns-srv NAME --dns-server HOST:PORT`. The other
//! transports: `--jsonrpc-addr`, `--netrpc-addr` (an address, or `off`)
//! and `--nats URL`.

use synkit_core::sd::Registrar;
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
    /// `--etcd URL[,URL...]`: the etcd members to discover instances in
    /// (stringsvc3) or register with (`--register`).
    pub etcd: Option<String>,
    /// `--etcd-prefix`: where instances live in etcd (default
    /// `/services/stringsvc/`, one key per instance: prefix + address).
    pub etcd_prefix: String,
    /// `--register`: register this instance's address in etcd while it
    /// serves.
    pub register: bool,
    /// `--ttl SECONDS`: the registration's lease (default 5); the
    /// heartbeat renews it every third of that.
    pub ttl: u64,
    /// `--dns-srv NAME`: the SRV name to discover instances by (stringsvc3).
    pub dns_srv: Option<String>,
    /// `--dns-server HOST:PORT`: the DNS server to ask for `--dns-srv`.
    pub dns_server: Option<String>,
    /// `--dns-interval SECONDS`: how often to ask again (default 5).
    pub dns_interval: u64,
    /// `--log-format logfmt|json`: how log lines are written (default
    /// logfmt, Go kit's).
    pub log_format: synkit_core::log::Format,
    /// `--statsd HOST:PORT`: also send metrics there, as StatsD.
    pub statsd: Option<String>,
    /// `--dogstatsd HOST:PORT`: also send metrics there, as DogStatsD
    /// (label values as tags).
    pub dogstatsd: Option<String>,
    /// `--jsonrpc-addr HOST:PORT`: also serve JSON-RPC 2.0 there (addsvc).
    pub jsonrpc_addr: Option<String>,
    /// `--netrpc-addr HOST:PORT`: also serve Go's net/rpc there, every
    /// codec on the one port (JSON, gob, gob over HTTP `CONNECT
    /// /_goRPC_`).
    pub netrpc_addr: Option<String>,
    /// `--nats nats://HOST:PORT`: also serve over NATS request-reply
    /// (stringsvc).
    pub nats: Option<String>,
    /// `--grpc-addr HOST:PORT`: also serve gRPC there (addsvc).
    pub grpc_addr: Option<String>,
    /// `--zipkin-url URL`: report spans to this Zipkin collector
    /// (`http://host:9411/api/v2/spans`), sampling every request.
    pub zipkin_url: Option<String>,
}

/// Parses the process's arguments; prints usage and exits on a bad one.
pub fn parse() -> Args {
    parse_for("127.0.0.1:8080")
}

/// As [`parse`], for a server whose HTTP address is `default_addr` unless
/// `--addr`/`--http-addr` says otherwise.
pub fn parse_for(default_addr: &str) -> Args {
    let mut args = Args {
        addr: default_addr.into(),
        config: ServerConfig::default(),
        proxy: None,
        etcd: None,
        etcd_prefix: "/services/stringsvc/".into(),
        register: false,
        ttl: 5,
        dns_srv: None,
        dns_server: None,
        dns_interval: 5,
        log_format: synkit_core::log::Format::Logfmt,
        statsd: None,
        dogstatsd: None,
        zipkin_url: None,
        jsonrpc_addr: None,
        netrpc_addr: None,
        nats: None,
        grpc_addr: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--register" {
            args.register = true;
            continue;
        }
        match (flag.as_str(), it.next()) {
            ("--addr" | "--http-addr", Some(v)) => args.addr = v,
            ("--jsonrpc-addr", Some(v)) => args.jsonrpc_addr = Some(v),
            ("--netrpc-addr", Some(v)) => args.netrpc_addr = Some(v),
            ("--nats", Some(v)) => args.nats = Some(v),
            ("--grpc-addr", Some(v)) => args.grpc_addr = Some(v),
            ("--proxy", Some(v)) => args.proxy = Some(v),
            ("--etcd", Some(v)) => args.etcd = Some(v),
            ("--etcd-prefix", Some(v)) => args.etcd_prefix = v,
            ("--dns-srv", Some(v)) => args.dns_srv = Some(v),
            ("--dns-server", Some(v)) => args.dns_server = Some(v),
            ("--statsd", Some(v)) => args.statsd = Some(v),
            ("--dogstatsd", Some(v)) => args.dogstatsd = Some(v),
            ("--zipkin-url", Some(v)) => args.zipkin_url = Some(v),
            ("--log-format", Some(v)) => {
                args.log_format = match v.as_str() {
                    "logfmt" => synkit_core::log::Format::Logfmt,
                    "json" => synkit_core::log::Format::Json,
                    _ => usage(&format!("--log-format takes logfmt or json, not {v:?}")),
                }
            }
            ("--ttl", Some(v)) => match v.parse() {
                Ok(n) if n > 0 => args.ttl = n,
                _ => usage(&format!("--ttl takes a number of seconds, not {v:?}")),
            },
            ("--dns-interval", Some(v)) => match v.parse() {
                Ok(n) if n > 0 => args.dns_interval = n,
                _ => usage(&format!(
                    "--dns-interval takes a number of seconds, not {v:?}"
                )),
            },
            ("--workers", Some(v)) => match v.parse() {
                Ok(n) => args.config.workers = n,
                Err(_) => usage(&format!("--workers takes a number, not {v:?}")),
            },
            ("--event-loops", Some(v)) => match v.parse() {
                Ok(n) => args.config.event_loops = n,
                Err(_) => usage(&format!("--event-loops takes a number, not {v:?}")),
            },
            ("--queue-capacity", Some(v)) => match v.parse() {
                Ok(n) => args.config.queue_capacity = n,
                Err(_) => usage(&format!("--queue-capacity takes a number, not {v:?}")),
            },
            _ => usage(&format!("unknown or incomplete flag {flag:?}")),
        }
    }
    args
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: [--addr HOST:PORT] [--workers N] [--event-loops N] [--queue-capacity N] [--log-format logfmt|json]\n\
         \x20      [--statsd HOST:PORT] [--dogstatsd HOST:PORT] [--zipkin-url URL] [--jsonrpc-addr HOST:PORT|off] [--netrpc-addr HOST:PORT|off] [--grpc-addr HOST:PORT|off] [--nats URL]\n\
         \x20      [--proxy HOST:PORT,... | --etcd URL [--etcd-prefix PREFIX] | --dns-srv NAME --dns-server HOST:PORT [--dns-interval S]]\n\
         \x20      [--etcd URL --register [--ttl S] [--etcd-prefix PREFIX]]"
    );
    std::process::exit(2);
}

/// What to do once the server has drained, before the process exits
/// (flush a span reporter, say).
static AT_SHUTDOWN: std::sync::Mutex<Vec<Box<dyn FnOnce() + Send>>> =
    std::sync::Mutex::new(Vec::new());

/// Runs `f` after the server has shut down, before the process exits.
pub fn at_shutdown(f: impl FnOnce() + Send + 'static) {
    AT_SHUTDOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(Box::new(f));
}

/// Where a transport listens: the address given, `default` when none was,
/// nowhere when it was `off` (or empty).
pub fn listen_addr(given: Option<&str>, default: Option<&str>) -> Option<String> {
    match given {
        Some("off" | "") => None,
        Some(addr) => Some(addr.to_owned()),
        None => default.map(str::to_owned),
    }
}

/// How long in-flight requests get to finish after SIGINT or SIGTERM.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves `service` on `args.addr`, announcing `name` and the address on
/// stdout, until SIGINT or SIGTERM; then shuts down gracefully (requests
/// in flight get [`SHUTDOWN_GRACE`] to finish) and exits. With
/// `--register`, the address is registered in etcd once it is listening
/// and deregistered first thing on the signal, so clients stop sending
/// before the server stops taking. Exits with a message if it cannot
/// listen or register.
pub fn serve(name: &str, args: &Args, service: impl Service) -> ! {
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
    if listen_addr(Some(&args.addr), None).is_none() {
        // `--http-addr off`: the other transports serve; wait for the end.
        if let Some(signal) = signals.forever().next() {
            eprintln!("{name} got signal {signal}; stopping");
        }
        finish();
    }
    let server = match Server::new(service).bind(args.addr.as_str(), &args.config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("{name} cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    let registrar = match crate::discovery::registrar(args, server.local_addr()) {
        Ok(registrar) => registrar,
        Err(e) => {
            eprintln!("{name} cannot register: {e}");
            std::process::exit(1);
        }
    };
    println!("{name} listening on http://{}", server.local_addr());
    if let Some(signal) = signals.forever().next() {
        eprintln!("{name} got signal {signal}; finishing requests in flight");
    }
    if let Some(Err(e)) = registrar.map(|r| r.deregister()) {
        eprintln!("{name} could not deregister: {e}");
    }
    server.shutdown(SHUTDOWN_GRACE);
    finish();
}

/// Runs what waits for shutdown ([`at_shutdown`]), flushes the log and
/// exits: the end of a server that does not go through [`serve`].
pub fn finish() -> ! {
    let pending = std::mem::take(
        &mut *AT_SHUTDOWN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for f in pending {
        f();
    }
    log::logger().flush();
    std::process::exit(0);
}
