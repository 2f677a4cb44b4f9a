//! Go kit's stringsvc over HTTP: `POST /uppercase`, `POST /count`,
//! `GET /health`, every call logged and counted (stringsvc2: logfmt lines
//! on stderr, `--log-format json` for JSON, `RUST_LOG=off` for none;
//! Prometheus metrics at `GET /metrics`, and StatsD with `--statsd
//! HOST:PORT`; Zipkin spans with `--zipkin-url URL`).
//!
//! ```text
//! cargo run --release -p synkit-examples --bin stringsvc -- --addr 127.0.0.1:8080
//! curl -s -XPOST localhost:8080/uppercase -d '{"s":"hello, world"}'
//! curl -s -XPOST localhost:8080/count -d '{"s":"hello, world"}'
//! curl -s localhost:8080/metrics
//! ```

use log::LevelFilter;
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::instrumenting::InstrumentingMiddleware;
use synkit_examples::stringsvc::logging::LoggingMiddleware;
use synkit_examples::stringsvc::transport::router;
use synkit_examples::{cli, logger, observability};
use synkit_transports::export::prometheus::MetricsService;
use synkit_transports::http::Method;
use synkit_transports::http::trace::TracedService;

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
    let routes = router(std::sync::Arc::new(svc)).route(
        Method::GET,
        "/metrics",
        MetricsService::new(exported.registry.clone()),
    );
    let traced = TracedService::new(routes, observability::tracer(&args, "stringsvc"));
    cli::serve("stringsvc", &args, traced);
}
