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

fn main() {
    cli::serve("addsvc", &cli::parse(), router(Adder));
}
