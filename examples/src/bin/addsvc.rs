//! Go kit's addsvc over HTTP (`POST /sum`, `POST /concat`) and, with
//! `--jsonrpc-addr`, JSON-RPC 2.0 (methods `sum` and `concat`), and with
//! `--netrpc-addr`, Go's net/rpc JSON codec (`addsvc.Sum`, `addsvc.Concat`).
//!
//! ```text
//! cargo run --release -p synkit-examples --bin addsvc -- --http-addr 127.0.0.1:8081 \
//!     --jsonrpc-addr 127.0.0.1:8084
//! curl -s -XPOST localhost:8081/sum -d '{"a":1,"b":2}'         # {"v":3}
//! curl -s -XPOST localhost:8081/concat -d '{"a":"1","b":"2"}'  # {"v":"12"}
//! curl -s -XPOST localhost:8084 -d '{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":2},"id":1}'
//! ```

use synkit_examples::addsvc::Adder;
use synkit_examples::addsvc::transport::{concat_endpoint, router, sum_endpoint};
use synkit_examples::{addsvc, cli};
use synkit_transports::http::server::Server;
use synkit_transports::netrpc::NetRpcServer;

fn main() {
    let args = cli::parse();
    // JSON-RPC on a listener of its own, alive until the process exits.
    let _jsonrpc = args.jsonrpc_addr.as_ref().map(|addr| {
        let server = Server::new(args.config.clone())
            .bind(addr.as_str(), addsvc::jsonrpc::server(Adder))
            .unwrap_or_else(|e| {
                eprintln!("addsvc cannot listen on {addr}: {e}");
                std::process::exit(1);
            });
        println!(
            "addsvc JSON-RPC listening on http://{}",
            server.local_addr()
        );
        server
    });
    let _netrpc = args.netrpc_addr.as_ref().map(|addr| {
        let server = NetRpcServer::new()
            .method("addsvc.Sum", sum_endpoint(Adder))
            .method("addsvc.Concat", concat_endpoint(Adder))
            .bind(addr.as_str(), &args.config)
            .unwrap_or_else(|e| {
                eprintln!("addsvc cannot listen on {addr}: {e}");
                std::process::exit(1);
            });
        println!("addsvc net/rpc (JSON) listening on {}", server.local_addr());
        server
    });
    cli::serve("addsvc", &args, router(Adder));
}
