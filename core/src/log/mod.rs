//! Go kit's structured logging on the `log` facade: records of key-value
//! pairs, written as logfmt or JSON exactly as Go kit's loggers write them.
//!
//! The encoders need nothing but `core`: [`logfmt::pair`] writes one
//! `key=value` pair with go-logfmt's quoting, [`json::object`] one record
//! as Go kit's JSON logger does (sorted keys), and [`GoDuration`] prints a
//! duration as Go does (`1.234µs`, `1m30s`). With `std`, [`Logger`] is a
//! `log` backend built on them: context fields added once (Go kit's
//! `log.With`), timestamp, caller and level, written straight out or
//! through a [`BufferedWriter`] that never blocks a request and counts
//! what it drops.
//!
//! Log with the `log` macros' key-values (its `kv` feature); a `None`
//! error is Go's `nil`: pass `log::kv::Value::null()` and it prints `null`.
//!
//! ```
//! use synkit_core::log::{Format, GoDuration, Logger};
//! use core::time::Duration;
//!
//! let logger = Logger::new(Format::Logfmt);
//! let took = GoDuration(Duration::from_nanos(1_234));
//! let kvs: [(&str, log::kv::Value<'_>); 5] = [
//!     ("method", "uppercase".into()),
//!     ("input", "hello".into()),
//!     ("output", "HELLO".into()),
//!     ("err", log::kv::Value::null()),
//!     ("took", log::kv::Value::from_display(&took)),
//! ];
//! let record = log::Record::builder().args(format_args!("")).key_values(&kvs).build();
//! assert_eq!(logger.format(&record), "method=uppercase input=hello output=HELLO err=null took=1.234µs\n");
//! ```

mod duration;
pub mod json;
pub mod logfmt;
#[cfg(feature = "std")]
mod logger;
mod text;
#[cfg(feature = "std")]
mod writer;

pub use duration::GoDuration;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use logger::{Format, Logger};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use writer::BufferedWriter;
