//! The bookinfo `BookService` over gRPC (h2c): registers `--addr` in etcd
//! under `/services/book/` with `--etcd URL`, reports spans to
//! `--zipkin-url`, and deregisters on SIGTERM or Ctrl-C.
//!
//! ```text
//! cargo run --release -p synkit-examples --bin bookinfo-server -- --addr 127.0.0.1:50051 --etcd http://127.0.0.1:2379
//! ```

use synkit_core::sd::Registrar;
use synkit_examples::{bookinfo, cli, discovery, observability};

fn main() {
    let mut args = cli::parse_for("127.0.0.1:50051");
    if args.etcd_prefix == "/services/stringsvc/" {
        args.etcd_prefix = bookinfo::ETCD_PREFIX.into();
    }
    // Given etcd, the server registers itself, as the seed's does.
    args.register = args.etcd.is_some();
    let tracer = observability::tracer(&args, "bookinfo-server");
    let server = bookinfo::server()
        .traced(tracer)
        .bind(args.addr.as_str(), &args.config)
        .unwrap_or_else(|e| {
            eprintln!("bookinfo-server cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        });
    let registrar = discovery::registrar(&args, server.local_addr()).unwrap_or_else(|e| {
        eprintln!("bookinfo-server cannot register: {e}");
        std::process::exit(1);
    });
    println!("bookinfo-server listening on {}", server.local_addr());
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .expect("watch for signals");
    if let Some(signal) = signals.forever().next() {
        eprintln!("bookinfo-server got signal {signal}; stopping");
    }
    if let Some(Err(e)) = registrar.map(|r| r.deregister()) {
        eprintln!("bookinfo-server could not deregister: {e}");
    }
    server.shutdown(cli::SHUTDOWN_GRACE);
    cli::finish();
}
