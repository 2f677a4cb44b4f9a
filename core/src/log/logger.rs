//! A `log` backend that writes Go kit's records: logfmt or JSON lines,
//! context fields added once, timestamp, caller and level.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt::{self, Write as _};
use std::io::Write;

use ::log::kv::{Key, ToValue, Value, VisitSource};
use ::log::{Level, LevelFilter, Log, Metadata, Record};

use super::text::Scan;
use super::writer::BufferedWriter;
use super::{json, logfmt};

/// How a [`Logger`] writes each record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// `key=value` pairs (Go kit's `NewLogfmtLogger`).
    #[default]
    Logfmt,
    /// One JSON object per line (Go kit's `NewJSONLogger`).
    Json,
}

enum Sink {
    // std's lock: it never allocates, even the first time a thread waits.
    Direct(std::sync::Mutex<Box<dyn Write + Send>>),
    Buffered(BufferedWriter),
}

/// A [`log`](::log) backend that writes records as Go kit's loggers do.
///
/// Each line is, in order: `level` (with [`level`](Self::level)), `ts`
/// (RFC 3339 UTC with nanoseconds, Go kit's `DefaultTimestampUTC`, with
/// [`timestamp`](Self::timestamp)), `caller` (`file.rs:line`, Go kit's
/// `DefaultCaller`, with [`caller`](Self::caller)), the fields added with
/// [`with`](Self::with), `msg` (the record's message, if it has one), then
/// the record's own key-values. So stringsvc2's middleware, logging with
/// no message, gives Go kit's line exactly:
/// `method=uppercase input=hello output=HELLO err=null took=1.2µs`.
///
/// A line is built in a buffer the thread keeps, and handed whole to the
/// output: straight to a writer behind a lock, or to a
/// [`BufferedWriter`] that never blocks. Logging a record allocates
/// nothing once the thread's buffer has grown to the longest line.
///
/// ```
/// use synkit_core::log::{Format, Logger};
///
/// let logger = Logger::new(Format::Logfmt).with("svc", "stringsvc").to(Box::new(std::io::sink()));
/// let line = logger.format(&log::Record::builder()
///     .args(format_args!(""))
///     .key_values(&[("method", "uppercase")])
///     .build());
/// assert_eq!(line, "svc=stringsvc method=uppercase\n");
/// ```
pub struct Logger {
    format: Format,
    fields: Vec<(String, String)>,
    timestamp: bool,
    caller: bool,
    level: bool,
    sink: Sink,
}

std::thread_local! {
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl Logger {
    /// A logger in `format` writing to stderr, each record written at once
    /// under a lock; no timestamp, caller or level until asked for.
    pub fn new(format: Format) -> Logger {
        Logger {
            format,
            fields: Vec::new(),
            timestamp: false,
            caller: false,
            level: false,
            sink: Sink::Direct(std::sync::Mutex::new(Box::new(std::io::stderr()))),
        }
    }

    /// Adds `key=value` to every record (Go kit's `log.With`).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl fmt::Display) -> Logger {
        self.fields
            .push((key.to_owned(), alloc::format!("{value}")));
        self
    }

    /// Starts each record with `ts`, the time in UTC (RFC 3339, nanoseconds).
    #[must_use]
    pub fn timestamp(mut self) -> Logger {
        self.timestamp = true;
        self
    }

    /// Adds `caller`, the file and line that logged.
    #[must_use]
    pub fn caller(mut self) -> Logger {
        self.caller = true;
        self
    }

    /// Adds `level` (`debug`, `info`, `warn`, `error`), Go kit's level key.
    #[must_use]
    pub fn level(mut self) -> Logger {
        self.level = true;
        self
    }

    /// Writes each line straight to `out`, under a lock.
    #[must_use]
    pub fn to(mut self, out: Box<dyn Write + Send>) -> Logger {
        self.sink = Sink::Direct(std::sync::Mutex::new(out));
        self
    }

    /// Buffers lines for `writer`, which never blocks the caller.
    #[must_use]
    pub fn buffered(mut self, writer: BufferedWriter) -> Logger {
        self.sink = Sink::Buffered(writer);
        self
    }

    /// Lines dropped because the buffered writer was full (0 when direct).
    pub fn dropped(&self) -> u64 {
        match &self.sink {
            Sink::Buffered(w) => w.dropped(),
            Sink::Direct(_) => 0,
        }
    }

    /// Installs this logger as the `log` facade's, at `level`.
    pub fn install(self, level: LevelFilter) -> Result<&'static Logger, ::log::SetLoggerError> {
        let logger: &'static Logger = Box::leak(Box::new(self));
        ::log::set_logger(logger)?;
        ::log::set_max_level(level);
        Ok(logger)
    }

    /// The line `record` becomes, newline included.
    pub fn format(&self, record: &Record<'_>) -> String {
        let mut line = String::new();
        self.format_into(&mut line, record);
        line
    }

    fn format_into(&self, line: &mut String, record: &Record<'_>) {
        let mut fixed: [(&str, Value<'_>); 4] = [
            ("", Value::null()),
            ("", Value::null()),
            ("", Value::null()),
            ("", Value::null()),
        ];
        let mut n = 0;
        let ts = if self.timestamp {
            Timestamp::now()
        } else {
            Timestamp(0, 0)
        };
        let caller = Caller(record);
        if self.level {
            fixed[n] = ("level", Value::from(level_name(record.level())));
            n += 1;
        }
        if self.timestamp {
            fixed[n] = ("ts", Value::from_display(&ts));
            n += 1;
        }
        if self.caller && record.file().is_some() {
            fixed[n] = ("caller", Value::from_display(&caller));
            n += 1;
        }
        let message = record.args();
        let empty = if let Some(text) = message.as_str() {
            text.is_empty()
        } else {
            let mut scan = Scan::new(|_| false, "");
            let _ = write!(scan, "{message}");
            scan.was_empty()
        };
        if !empty {
            fixed[n] = ("msg", Value::from_display(message));
            n += 1;
        }
        match self.format {
            Format::Logfmt => {
                let mut first = true;
                let mut put = |line: &mut String, k: &str, v: &Value<'_>| {
                    if logfmt::pair(line, k, v, first).unwrap_or(false) {
                        first = false;
                    }
                };
                let msg_at = n - usize::from(!empty);
                for (k, v) in &fixed[..msg_at] {
                    put(line, k, v);
                }
                for (k, v) in &self.fields {
                    put(line, k, &Value::from(v.as_str()));
                }
                for (k, v) in &fixed[msg_at..n] {
                    put(line, k, v);
                }
                let mut visit = PairsTo(|k: &str, v: &Value<'_>| put(line, k, v));
                let _ = record.key_values().visit(&mut visit);
            }
            Format::Json => {
                let mut all: [(&str, Value<'_>); json::MAX_SORTED] =
                    core::array::from_fn(|_| ("", Value::null()));
                let mut len = 0;
                let mut overflow = false;
                for (k, v) in &fixed[..n] {
                    all[len] = (k, v.to_value());
                    len += 1;
                }
                for (k, v) in &self.fields {
                    if len < all.len() {
                        all[len] = (k.as_str(), Value::from(v.as_str()));
                        len += 1;
                    } else {
                        overflow = true;
                    }
                }
                let mut collect = Collect {
                    all: &mut all,
                    len: &mut len,
                    overflow: &mut overflow,
                };
                let _ = record.key_values().visit(&mut collect);
                let _ = json::object(line, &all[..len]);
            }
        }
        line.push('\n');
    }
}

/// Visits a record's pairs with a closure.
struct PairsTo<F>(F);

impl<'kvs, F: FnMut(&str, &Value<'_>)> VisitSource<'kvs> for PairsTo<F> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), ::log::kv::Error> {
        (self.0)(key.as_str(), &value);
        Ok(())
    }
}

/// Gathers a record's pairs for sorting (JSON), as far as they fit.
struct Collect<'a, 'b> {
    all: &'a mut [(&'b str, Value<'b>); json::MAX_SORTED],
    len: &'a mut usize,
    overflow: &'a mut bool,
}

impl<'kvs: 'b, 'b> VisitSource<'kvs> for Collect<'_, 'b> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), ::log::kv::Error> {
        if *self.len < self.all.len() {
            let key: Key<'kvs> = key;
            if let Some(k) = key.to_borrowed_str() {
                self.all[*self.len] = (k, value);
                *self.len += 1;
                return Ok(());
            }
        }
        *self.overflow = true;
        Ok(())
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

/// `file.rs:line`, the file's name without its directories.
struct Caller<'a, 'r>(&'a Record<'r>);

impl fmt::Display for Caller<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.0.file().unwrap_or("?");
        let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
        write!(f, "{name}:{}", self.0.line().unwrap_or(0))
    }
}

/// Now, as Go's `time.RFC3339Nano` in UTC: `2026-11-30T00:50:00.123456789Z`
/// with trailing zeros of the fraction dropped.
struct Timestamp(u64, u32);

impl Timestamp {
    fn now() -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(since.as_secs(), since.subsec_nanos())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / 86_400;
        let rem = self.0 % 86_400;
        let (y, m, d) = civil(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )?;
        if self.1 > 0 {
            let mut frac = self.1;
            let mut width = 9;
            while frac.is_multiple_of(10) {
                frac /= 10;
                width -= 1;
            }
            write!(f, ".{frac:0width$}")?;
        }
        f.write_str("Z")
    }
}

/// The civil date of `days` since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= ::log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        LINE.with(|cell| {
            let Ok(mut line) = cell.try_borrow_mut() else {
                // Logging from inside a value's Display: write it apart.
                let line = self.format(record);
                self.emit(line.as_bytes());
                return;
            };
            line.clear();
            // Room for a typical line from the start, so most threads never
            // grow the buffer while serving.
            line.reserve(512);
            self.format_into(&mut line, record);
            self.emit(line.as_bytes());
        });
    }

    fn flush(&self) {
        match &self.sink {
            Sink::Direct(out) => {
                let _ = out
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .flush();
            }
            Sink::Buffered(w) => w.flush(),
        }
    }
}

impl Logger {
    fn emit(&self, bytes: &[u8]) {
        match &self.sink {
            Sink::Direct(out) => {
                let _ = out
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .write_all(bytes);
            }
            Sink::Buffered(w) => w.write_line(bytes),
        }
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("format", &self.format)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn timestamps_are_rfc3339_nano_in_utc() {
        assert_eq!(Timestamp(0, 0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp(1_796_000_000, 120_000_000).to_string(),
            "2026-11-30T00:53:20.12Z"
        );
        assert_eq!(
            Timestamp(951_782_400, 5).to_string(),
            "2000-02-29T00:00:00.000000005Z"
        );
    }
}
