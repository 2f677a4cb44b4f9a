//! Go kit's stringsvc3: stringsvc whose `uppercase` is proxied to other
//! instances found by service discovery (a fixed `--proxy` list, etcd, or
//! DNS SRV), round robin with a breaker and a rate limiter per instance,
//! retried within 250 ms; with none of those flags it serves locally.
//!
//! ```text
//! etcd --data-dir /tmp/etcd.demo &
//! cargo run --release -p synkit-examples --bin stringsvc -- --addr 127.0.0.1:8081 \
//!     --etcd http://127.0.0.1:2379 --register &
//! cargo run --release -p synkit-examples --bin stringsvc -- --addr 127.0.0.1:8082 \
//!     --etcd http://127.0.0.1:2379 --register &
//! cargo run --release -p synkit-examples --bin stringsvc3 -- --addr 127.0.0.1:8080 \
//!     --etcd http://127.0.0.1:2379
//! curl -s -XPOST localhost:8080/uppercase -d '{"s":"proxied"}'
//! ```

use log::LevelFilter;
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::logging::LoggingMiddleware;
use synkit_examples::stringsvc::proxy::ProxyingService;
use synkit_examples::stringsvc::transport::router;
use synkit_examples::{cli, discovery, logger, observability};
use synkit_transports::http::server::Router;
use synkit_transports::http::trace::TracedService;

fn main() {
    let args = cli::parse();
    logger::init_with(args.log_format, LevelFilter::Info).expect("no other logger is installed");
    let tracer = observability::tracer(&args, "stringsvc3");
    let routes: Router = match discovery::instancer(&args) {
        Ok(None) => router(LoggingMiddleware::new(Strings)),
        Ok(Some(instancer)) => {
            log::info!(instances:? = instancer.state().instances; "proxying uppercase");
            let proxy = ProxyingService::traced(Strings, instancer, Some(tracer.clone()));
            router(LoggingMiddleware::new(std::sync::Arc::new(proxy)))
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    cli::serve("stringsvc3", &args, TracedService::new(routes, tracer));
}
