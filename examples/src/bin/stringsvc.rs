//! Go kit's stringsvc over HTTP: `POST /uppercase`, `POST /count`,
//! `GET /health`, every call logged and counted (stringsvc2: logfmt lines
//! on stderr, `--log-format json` for JSON, `RUST_LOG=off` for none;
//! Prometheus metrics at `GET /metrics`, and StatsD with `--statsd
//! HOST:PORT`; Zipkin spans with `--zipkin-url URL`). Also over JSON-RPC
//! with `--jsonrpc-addr`, Go's net/rpc with `--netrpc-addr`, and NATS with
//! `--nats nats://HOST:PORT` (subjects `stringsvc.uppercase` and
//! `stringsvc.count`, the HTTP bodies).
//!
//! ```text
//! cargo run --release -p synkit-examples --bin stringsvc -- --addr 127.0.0.1:8080
//! curl -s -XPOST localhost:8080/uppercase -d '{"s":"hello, world"}'
//! curl -s -XPOST localhost:8080/count -d '{"s":"hello, world"}'
//! curl -s localhost:8080/metrics
//! cargo run --release -p synkit-examples --bin stringsvc -- --nats nats://127.0.0.1:4222
//! cargo run --release -p synkit-examples --bin stringcli -- --transport nats uppercase hello
//! ```

use log::LevelFilter;
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::instrumenting::InstrumentingMiddleware;
use synkit_examples::stringsvc::logging::LoggingMiddleware;
use synkit_examples::stringsvc::rpc;
use synkit_examples::stringsvc::transport::router;
use synkit_examples::{cli, logger, observability};
use synkit_transports::export::prometheus::MetricsService;
use synkit_transports::http::Method;
use synkit_transports::http::server::Server;
use synkit_transports::http::trace::TracedService;
use synkit_transports::nats::{Connection, Options};

fn main() {
    let args = cli::parse();
    logger::init_with(args.log_format, LevelFilter::Info).expect("no other logger is installed");
    let exported = match observability::metrics(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // Go kit's order: instrumenting outside logging outside the service.
    let svc = InstrumentingMiddleware::new(LoggingMiddleware::new(Strings), &exported.metrics)
        .expect("stringsvc2's label values match its metrics");
    let svc = std::sync::Arc::new(svc);
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("stringsvc cannot serve {what}: {e}");
        std::process::exit(1);
    };
    // The other transports, each alive until the process exits.
    let _jsonrpc = cli::listen_addr(args.jsonrpc_addr.as_deref(), None).map(|addr| {
        let server = Server::new(rpc::jsonrpc_server(svc.clone()))
            .bind(addr.as_str(), &args.config)
            .unwrap_or_else(|e| fail("JSON-RPC", &e));
        println!(
            "stringsvc JSON-RPC listening on http://{}",
            server.local_addr()
        );
        server
    });
    let _netrpc = cli::listen_addr(args.netrpc_addr.as_deref(), None).map(|addr| {
        let server = rpc::netrpc_server(svc.clone())
            .bind(addr.as_str(), &args.config)
            .unwrap_or_else(|e| fail("net/rpc", &e));
        println!("stringsvc net/rpc listening on {}", server.local_addr());
        server
    });
    let _nats = args.nats.as_ref().map(|url| {
        let options = Options {
            name: "stringsvc".into(),
            ..Options::default()
        };
        let conn = Connection::connect(url, options).unwrap_or_else(|e| fail("NATS", &e));
        let serving = rpc::serve_nats(svc.clone(), &conn, 4).unwrap_or_else(|e| fail("NATS", &e));
        println!("stringsvc NATS serving stringsvc.uppercase and stringsvc.count on {url}");
        (conn, serving)
    });
    let routes = router(svc).route(
        Method::GET,
        "/metrics",
        MetricsService::new(exported.registry.clone()),
    );
    let traced = TracedService::new(routes, observability::tracer(&args, "stringsvc"));
    cli::serve("stringsvc", &args, traced);
}
