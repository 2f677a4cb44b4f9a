//! The examples' `log` backend: Go kit's logfmt (or JSON) lines on stderr,
//! through synkit's buffered writer so a request never waits on the
//! terminal.

use std::time::Duration;

use log::LevelFilter;
use synkit_core::log::{BufferedWriter, Format, Logger};

/// How much the stderr buffer holds before lines are dropped (and counted).
const BUFFER: usize = 1 << 20;
/// How often the buffer is written out when it is not filling fast.
const INTERVAL: Duration = Duration::from_millis(20);

/// Installs the logfmt logger at `level`, unless `RUST_LOG` names another
/// level (`error`, `warn`, `info`, `debug`, `trace`, `off`).
///
/// Returns an error if a logger is already installed.
pub fn init(level: LevelFilter) -> Result<(), log::SetLoggerError> {
    init_with(Format::Logfmt, level)
}

/// Installs a logger writing `format` at `level` (or `RUST_LOG`'s).
///
/// Returns an error if a logger is already installed.
pub fn init_with(format: Format, level: LevelFilter) -> Result<(), log::SetLoggerError> {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(level);
    let writer = BufferedWriter::new(Box::new(std::io::stderr()), BUFFER, INTERVAL);
    Logger::new(format).buffered(writer).install(level)?;
    Ok(())
}
