//! Go kit's addsvc over HTTP: `POST /sum`, `POST /concat`.
//!
//! ```text
//! cargo run --release -p synkit-examples --bin addsvc -- --addr 127.0.0.1:8081
//! curl -s -XPOST localhost:8081/sum -d '{"a":1,"b":2}'         # {"v":3}
//! curl -s -XPOST localhost:8081/concat -d '{"a":"1","b":"2"}'  # {"v":"12"}
//! ```

use synkit_examples::addsvc::Adder;
use synkit_examples::addsvc::transport::router;
use synkit_examples::cli;
use synkit_transports::http::server::Server;

fn main() {
    let args = cli::parse();
    let server = match Server::new(args.config).bind(args.addr.as_str(), router(Adder)) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    println!("addsvc listening on http://{}", server.local_addr());
    server.wait();
}
