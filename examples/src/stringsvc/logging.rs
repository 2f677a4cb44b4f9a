//! Logging middleware, Go kit's stringsvc2 `loggingMiddleware`: one record
//! per call with the method, its input, its output, its error and how long
//! it took, on the `log` facade.
//!
//! With [`synkit_core::log::Logger`] in logfmt, a call writes Go kit's line
//! exactly: `method=uppercase input=hello output=HELLO err=null took=2.1µs`.
//! It allocates nothing: every field is borrowed.

use std::time::Instant;

use log::kv::Value;
use synkit_core::log::GoDuration;

use super::{StringError, StringService};

/// A [`StringService`] that logs every call to the one it wraps, as Go
/// kit's stringsvc2 does (at `info`, errors included, as Go kit logs them).
#[derive(Clone, Debug)]
pub struct LoggingMiddleware<S> {
    next: S,
}

impl<S> LoggingMiddleware<S> {
    /// Logs the calls made to `next`.
    pub fn new(next: S) -> LoggingMiddleware<S> {
        LoggingMiddleware { next }
    }
}

impl<S: StringService> StringService for LoggingMiddleware<S> {
    fn uppercase(&self, s: &str) -> Result<String, StringError> {
        if !log::log_enabled!(log::Level::Info) {
            return self.next.uppercase(s);
        }
        let begin = Instant::now();
        let out = self.next.uppercase(s);
        let took = GoDuration(begin.elapsed());
        let (output, err) = match &out {
            Ok(v) => (v.as_str(), Value::null()),
            Err(e) => ("", Value::from_display(e)),
        };
        log::info!(method = "uppercase", input = s, output = output, err = err, took:% = took; "");
        out
    }

    fn count(&self, s: &str) -> usize {
        if !log::log_enabled!(log::Level::Info) {
            return self.next.count(s);
        }
        let begin = Instant::now();
        let n = self.next.count(s);
        let took = GoDuration(begin.elapsed());
        log::info!(method = "count", input = s, n = n, took:% = took; "");
        n
    }
}
