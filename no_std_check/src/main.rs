//! A bare `no_std` binary that links synkit-core and runs its checks.
//!
//! Built with a `panic = "abort"` profile (`--profile release-small`), it has
//! no `std` and brings its own `#[panic_handler]`; if anything in the
//! dependency graph pulled `std` in, the link would fail on a duplicate
//! `panic_impl` lang item. It exits 0 when every check passes, and otherwise
//! names the failed check on stderr and exits 1.
//!
//! A `no_std` binary cannot unwind, so under an unwinding profile (plain
//! `cargo build`) this file builds a hosted binary running the same checks,
//! which keeps `cargo build --workspace` working.

#![cfg_attr(panic = "abort", no_std, no_main)]

#[cfg(panic = "abort")]
mod bare;

#[cfg(not(panic = "abort"))]
fn main() {
    if let Err(failed) = no_std_check::run() {
        eprintln!("no_std check failed: {failed}");
        std::process::exit(1);
    }
}
