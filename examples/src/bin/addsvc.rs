//! Go kit's addsvc over four transports at once, on Go kit addsvc's
//! ports: HTTP on `--http-addr` (default 127.0.0.1:8081: `POST /sum`,
//! `POST /concat`), gRPC on `--grpc-addr` (default 127.0.0.1:8082:
//! `pb.Add/Sum`, `pb.Add/Concat`), JSON-RPC 2.0 on `--jsonrpc-addr` (default
//! 127.0.0.1:8084: methods `sum` and `concat`) and Go's net/rpc on
//! `--netrpc-addr` (default 127.0.0.1:8085: `addsvc.Sum`, `addsvc.Concat`,
//! in Go's JSON codec, its gob codec, and gob over HTTP at `/_goRPC_`, all
//! on that one port). Any of them is turned off with `off`.
//!
//! ```text
//! cargo run --release -p synkit-examples --bin addsvc
//! curl -s -XPOST localhost:8081/sum -d '{"a":1,"b":2}'         # {"v":3}
//! curl -s -XPOST localhost:8081/concat -d '{"a":"1","b":"2"}'  # {"v":"12"}
//! curl -s -XPOST localhost:8084 -d '{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":2},"id":1}'
//! cargo run --release -p synkit-examples --bin stringcli -- --transport netrpc sum 1 2
//! ```

use synkit_examples::addsvc::Adder;
use synkit_examples::addsvc::transport::{concat_endpoint, router, sum_endpoint};
use synkit_examples::{addsvc, cli};
use synkit_transports::http::server::Server;
use synkit_transports::netrpc;

fn main() {
    let args = cli::parse_for("127.0.0.1:8081");
    let exit = |what: &str, addr: &str, e: std::io::Error| -> ! {
        eprintln!("addsvc cannot listen for {what} on {addr}: {e}");
        std::process::exit(1);
    };
    // Each transport on a listener of its own, alive until the process exits.
    let jsonrpc = cli::listen_addr(args.jsonrpc_addr.as_deref(), Some("127.0.0.1:8084"));
    let _jsonrpc = jsonrpc.map(|addr| {
        let server = Server::new(addsvc::jsonrpc::server(Adder))
            .bind(addr.as_str(), &args.config)
            .unwrap_or_else(|e| exit("JSON-RPC", &addr, e));
        println!(
            "addsvc JSON-RPC listening on http://{}",
            server.local_addr()
        );
        server
    });
    let netrpc = cli::listen_addr(args.netrpc_addr.as_deref(), Some("127.0.0.1:8085"));
    let _netrpc = netrpc.map(|addr| {
        let server = netrpc::Server::new()
            .method("addsvc.Sum", sum_endpoint(Adder))
            .method("addsvc.Concat", concat_endpoint(Adder))
            .bind(addr.as_str(), &args.config)
            .unwrap_or_else(|e| exit("net/rpc", &addr, e));
        println!(
            "addsvc net/rpc (JSON, gob, gob over HTTP) listening on {}",
            server.local_addr()
        );
        server
    });
    let grpc = cli::listen_addr(args.grpc_addr.as_deref(), Some("127.0.0.1:8082"));
    let _grpc = grpc.map(|addr| {
        let server = addsvc::grpc::server(Adder)
            .bind(addr.as_str(), &args.config)
            .unwrap_or_else(|e| exit("gRPC", &addr, e));
        println!("addsvc gRPC (h2c) listening on {}", server.local_addr());
        server
    });
    cli::serve("addsvc", &args, router(Adder));
}
