//! synkit's benchmarks. The criterion benches live in `benches/`; run them
//! with `cargo bench -p synkit-benches`. Figures are recorded in the
//! repository's `BENCHMARKS.md`.
