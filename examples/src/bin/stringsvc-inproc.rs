//! Go kit's string service, in process: the endpoint model without a
//! transport.
//!
//! Each argument is upper-cased and counted through the service's endpoints,
//! each wrapped in logging middleware; results go to stdout, log records to
//! stderr.
//!
//! ```text
//! cargo run -p synkit-examples --bin stringsvc-inproc -- hello "" gopher
//! ```

use std::time::Duration;

use log::LevelFilter;
use synkit_core::{Context, Endpoint};
use synkit_examples::logger;
use synkit_examples::stringsvc::Strings;
use synkit_examples::stringsvc::endpoints::{
    CountRequest, UppercaseRequest, count_endpoint, uppercase_endpoint,
};
use synkit_examples::stringsvc::logging::LoggingMiddleware;

fn main() {
    logger::init(LevelFilter::Info).expect("no other logger is installed");

    let uppercase = uppercase_endpoint(LoggingMiddleware::new(Strings));
    let count = count_endpoint(LoggingMiddleware::new(Strings));

    let mut inputs: Vec<String> = std::env::args().skip(1).collect();
    if inputs.is_empty() {
        inputs = vec!["hello, gopher".into(), String::new(), "héllo".into()];
    }

    let root = Context::background();
    for s in inputs {
        // Each request gets a second, as a server would give it.
        let cx = root.with_timeout(Duration::from_secs(1));
        match uppercase.call(&cx, UppercaseRequest { s: s.clone() }) {
            Ok(resp) => println!("uppercase({s:?}) = {:?}", resp.v),
            Err(err) => println!("uppercase({s:?}) failed: {err}"),
        }
        match count.call(&cx, CountRequest { s: s.clone() }) {
            Ok(resp) => println!("count({s:?}) = {}", resp.v),
            Err(err) => println!("count({s:?}) failed: {err}"),
        }
    }
}
