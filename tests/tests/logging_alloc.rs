//! stringsvc2's logging middleware adds no heap allocation to a call: the
//! record is built from borrowed fields, formatted into the thread's
//! buffer and handed to the buffered writer's preallocated buffer. (Its
//! own binary: it installs the process's logger.)
//!
//! It holds under contention too: threads that have each logged once, then
//! log at once, wait on the writer's lock, and waiting must not allocate
//! either (a parking lock that allocates its record the first time a thread
//! parks would show up here).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use log::LevelFilter;
use synkit_core::log::{BufferedWriter, Format, Logger};
use synkit_examples::stringsvc::logging::LoggingMiddleware;
use synkit_examples::stringsvc::{StringService, Strings};
use synkit_tests::allocations_during;

/// Output that counts the lines written to it.
#[derive(Clone, Default)]
struct Lines(Arc<AtomicUsize>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = b.split(|&c| c == b'\n').count() - 1;
        self.0.fetch_add(n, Ordering::Relaxed);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Threads logging at once in the contended half of the test.
const THREADS: usize = 4;
/// Calls each of them makes.
const CALLS: usize = 500;

#[test]
fn the_logging_middleware_adds_no_allocation() {
    let lines = Lines::default();
    let writer = BufferedWriter::new(Box::new(lines.clone()), 1 << 20, Duration::from_millis(5));
    let installed = Logger::new(Format::Logfmt)
        .buffered(writer)
        .install(LevelFilter::Info)
        .unwrap();
    let plain = Strings;
    let with_logging = LoggingMiddleware::new(Strings);
    let inputs = ["hello, world", "", "a \"quoted\" and\nnewlined input"];
    // Warm up: the thread's line buffer grows to the longest line once.
    for input in inputs {
        let _ = with_logging.uppercase(input);
        with_logging.count(input);
    }
    for input in inputs {
        let (base, _) = allocations_during(|| plain.uppercase(input));
        let (with_log, _) = allocations_during(|| with_logging.uppercase(input));
        assert_eq!(with_log, base, "uppercase({input:?})");
        assert_eq!(
            allocations_during(|| with_logging.count(input)).0,
            0,
            "count({input:?})"
        );
    }

    // Contended: each thread logs once on its own (its line buffer is made
    // then), then all log together, every call counted.
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let start = Arc::new(std::sync::Barrier::new(THREADS));
    let mut handles = Vec::new();
    for _ in 0..THREADS {
        let (warmed, start) = (go.clone(), start.clone());
        let with_logging = with_logging.clone();
        handles.push(std::thread::spawn(move || {
            with_logging.count("warm");
            warmed.send(()).unwrap();
            start.wait();
            let mut most = 0;
            for i in 0..CALLS {
                let (n, _) = allocations_during(|| with_logging.count(inputs[i % 3]));
                most = most.max(n);
            }
            most
        }));
        // One thread warms up at a time, so none waits on the lock yet.
        wait.recv().unwrap();
    }
    for h in handles {
        assert_eq!(h.join().unwrap(), 0, "a contended call allocated");
    }

    log::logger().flush();
    assert_eq!(installed.dropped(), 0);
    // Every logged call wrote its line: 6 warming up, 6 measured, then the
    // threads' calls.
    assert_eq!(lines.0.load(Ordering::Relaxed), 12 + THREADS * (1 + CALLS));
}
