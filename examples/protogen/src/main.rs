//! Writes `examples/src/pb/{pb,book}.rs` from Go kit addsvc's proto (the
//! one the Go peer and the tonic peer are built from) and bookinfo's.

use std::error::Error;
use std::path::Path;

fn main() -> Result<(), Box<dyn Error>> {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let addsvc = examples.join("../tests/go/proto/kitgrpc/pb");
    let book = examples.join("proto");
    let files = protox::compile(["addsvc.proto", "book.proto"], [addsvc, book])?;
    prost_build::Config::new()
        .out_dir(examples.join("src/pb"))
        .compile_fds(files)?;
    Ok(())
}
