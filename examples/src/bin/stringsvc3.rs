//! Go kit's stringsvc3: stringsvc whose `uppercase` is proxied to other
//! instances (round robin, a breaker and a rate limiter per instance, retry
//! within 250 ms); without `--proxy` it serves locally.
//!
//! ```text
//! cargo run --release -p synkit-examples --bin stringsvc -- --addr 127.0.0.1:8081 &
//! cargo run --release -p synkit-examples --bin stringsvc -- --addr 127.0.0.1:8082 &
//! cargo run --release -p synkit-examples --bin stringsvc3 -- --addr 127.0.0.1:8080 \
//!     --proxy 127.0.0.1:8081,127.0.0.1:8082
//! curl -s -XPOST localhost:8080/uppercase -d '{"s":"proxied"}'
//! ```

use log::LevelFilter;
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::proxy::ProxyingService;
use synkit_examples::stringsvc::transport::router;
use synkit_examples::{cli, logger};
use synkit_transports::http::server::Router;

fn main() {
    let args = cli::parse();
    logger::init(LevelFilter::Info).expect("no other logger is installed");
    let routes: Router = match &args.proxy {
        None => router(Strings),
        Some(list) => match ProxyingService::new(Strings, list) {
            Ok(proxy) => {
                log::info!(proxy_to = list.as_str(); "proxying uppercase");
                router(std::sync::Arc::new(proxy))
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        },
    };
    cli::serve("stringsvc3", args, routes);
}
