//! stringsvc2's logging middleware adds no heap allocation to a call: the
//! record is built from borrowed fields, formatted into the thread's
//! buffer and handed to the buffered writer's preallocated buffer. (Its
//! own binary: it installs the process's logger.)

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
    log::logger().flush();
    assert_eq!(installed.dropped(), 0);
    // Every logged call wrote its line: 6 warming up, 6 measured.
    assert_eq!(lines.0.load(Ordering::Relaxed), 12);
}
