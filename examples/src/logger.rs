//! A minimal `log` backend for the examples: one line per record on stderr,
//! `LEVEL target: message key=value ...`, in the spirit of Go kit's logfmt
//! logger. Real services plug in whichever `log` backend they already use.

use std::fmt::Write as _;
use std::io::Write as _;

use log::kv::{Key, Value, VisitSource};
use log::{LevelFilter, Log, Metadata, Record};

struct Stderr;

static LOGGER: Stderr = Stderr;

/// Installs the stderr logger at `level`, unless `RUST_LOG` names another
/// level (`error`, `warn`, `info`, `debug`, `trace`, `off`).
///
/// Returns an error if a logger is already installed.
pub fn init(level: LevelFilter) -> Result<(), log::SetLoggerError> {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(level);
    log::set_logger(&LOGGER)?;
    log::set_max_level(level);
    Ok(())
}

struct Fields<'a>(&'a mut String);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = format!(
            "{:<5} {}: {}",
            record.level(),
            record.target(),
            record.args()
        );
        let _ = record.key_values().visit(&mut Fields(&mut line));
        line.push('\n');
        // One write per record keeps lines from different threads whole.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}
