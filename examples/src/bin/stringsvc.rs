//! Go kit's stringsvc over HTTP: `POST /uppercase`, `POST /count`,
//! `GET /health`, every call logged.
//!
//! ```text
//! cargo run --release -p synkit-examples --bin stringsvc -- --addr 127.0.0.1:8080
//! curl -s -XPOST localhost:8080/uppercase -d '{"s":"hello, world"}'
//! curl -s -XPOST localhost:8080/count -d '{"s":"hello, world"}'
//! ```

use log::LevelFilter;
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::transport::router;
use synkit_examples::{cli, logger};
use synkit_transports::http::server::Server;

fn main() {
    let args = cli::parse();
    logger::init(LevelFilter::Info).expect("no other logger is installed");
    let server = match Server::new(args.config).bind(args.addr.as_str(), router(Strings)) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    println!("stringsvc listening on http://{}", server.local_addr());
    server.wait();
}
