//! The bookinfo client: finds `BookService` instances in etcd
//! (`/services/book/`), balances round robin with retry over them (each
//! behind a Hystrix-style breaker), and asks for `--book-id` (default 1)
//! and the first page of the list, under a parent span `bookCaller`
//! reported to `--zipkin-url`. Prints the answers as JSON lines.
//!
//! ```text
//! cargo run --release -p synkit-examples --bin bookinfo-client -- --etcd http://127.0.0.1:2379
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use synkit_core::Context;
use synkit_core::sd::Instancer;
use synkit_core::trace::{Kind, NoopReporter, Reporter, Sampler, Tracer};
use synkit_examples::bookinfo::{self, BookClient};
use synkit_transports::export::zipkin::ZipkinReporter;
use synkit_transports::sd::etcd::{Client, EtcdInstancer};

fn usage(problem: &str) -> ! {
    eprintln!("{problem}\nusage: bookinfo-client --etcd URL [--zipkin-url URL] [--book-id N]");
    std::process::exit(2);
}

fn main() {
    let (mut etcd, mut zipkin, mut book_id) = (None, None, 1);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} takes a value")));
        match flag.as_str() {
            "--etcd" => etcd = Some(value),
            "--zipkin-url" => zipkin = Some(value),
            "--book-id" => {
                book_id = value
                    .parse()
                    .unwrap_or_else(|_| usage("--book-id takes a number"));
            }
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    let Some(etcd) = etcd else {
        usage("--etcd URL is needed")
    };
    let etcd = Arc::new(Client::new(etcd.split(',').map(str::trim)));
    let instancer: Arc<dyn Instancer> = Arc::new(EtcdInstancer::new(etcd, bookinfo::ETCD_PREFIX));
    // The first look at etcd happens in the background: wait for it.
    let began = Instant::now();
    while instancer.state().instances.is_empty() && began.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let zipkin = zipkin.map(|url| Arc::new(ZipkinReporter::new(&url)));
    let (reporter, sampler): (Arc<dyn Reporter>, Sampler) = match &zipkin {
        Some(z) => (z.clone(), Sampler::Always),
        None => (Arc::new(NoopReporter), Sampler::Never),
    };
    let tracer = Arc::new(Tracer::system("bookinfo-client", reporter).with_sampler(sampler));
    let client = BookClient::new(&instancer, Some(tracer.clone()));
    let caller = tracer.start("bookCaller", Kind::Local, None);
    let context = *caller.context();
    let root = Context::background();
    let cx = root.with_value(&context);
    let info = client.book_info(&cx, book_id);
    let list = client.book_list(&cx, 1, 10);
    caller.finish();
    if let Some(z) = zipkin {
        z.flush(Duration::from_secs(2));
    }
    let mut failed = false;
    match info {
        Ok(b) => println!(
            "{{\"bookId\":{},\"bookName\":{:?}}}",
            b.book_id, b.book_name
        ),
        Err(e) => {
            eprintln!("GetBookInfo failed: {e}");
            failed = true;
        }
    }
    match list {
        Ok(l) => {
            let names: Vec<String> = l
                .book_list
                .iter()
                .map(|b| format!("{:?}", b.book_name))
                .collect();
            println!("{{\"bookList\":[{}]}}", names.join(","));
        }
        Err(e) => {
            eprintln!("GetBookList failed: {e}");
            failed = true;
        }
    }
    std::process::exit(i32::from(failed));
}
