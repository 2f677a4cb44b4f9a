fn main() -> Result<(), Box<dyn std::error::Error>> {
    tonic_build::compile_protos("../../tests/go/proto/kitgrpc/pb/addsvc.proto")?;
    Ok(())
}
