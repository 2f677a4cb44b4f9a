//! Whole services built with synkit, after Go kit's examples. Each binary in
//! `src/bin` is one service; the pieces they share live here.
//!
//! - [`stringsvc`]: Go kit's string service — `uppercase` and `count` — as a
//!   service trait, its implementation, its endpoints and a logging
//!   middleware.
//! - [`addsvc`]: Go kit's add service — `sum` and `concat` — in its HTTP
//!   wire format.
//! - [`cli`]: the `--addr` and `--workers` flags every server takes.
//! - [`logger`]: a small `log` backend that prints records, with their
//!   key-value fields, to stderr.

pub mod addsvc;
pub mod bookinfo;
pub mod cli;
pub mod discovery;
pub mod logger;
pub mod observability;
pub mod pb;
pub mod stringsvc;

/// The README's code, compiled and run by `cargo test` so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
