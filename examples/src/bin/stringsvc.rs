//! Go kit's stringsvc over HTTP: `POST /uppercase`, `POST /count`,
//! `GET /health`, every call logged (stringsvc2; `RUST_LOG=off` for
//! stringsvc1).
//!
//! ```text
//! cargo run --release -p synkit-examples --bin stringsvc -- --addr 127.0.0.1:8080
//! curl -s -XPOST localhost:8080/uppercase -d '{"s":"hello, world"}'
//! curl -s -XPOST localhost:8080/count -d '{"s":"hello, world"}'
//! ```

use log::LevelFilter;
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::logging::LoggingMiddleware;
use synkit_examples::stringsvc::transport::router;
use synkit_examples::{cli, logger};

fn main() {
    let args = cli::parse();
    logger::init_with(args.log_format, LevelFilter::Info).expect("no other logger is installed");
    cli::serve("stringsvc", &args, router(LoggingMiddleware::new(Strings)));
}
