//! Compiles `proto/wildnet/v1/*.proto` with protox (pure Rust: no system
//! `protoc`), generates prost types, tonic services and pbjson serde impls,
//! and writes the encoded descriptor set for gRPC reflection.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "wildnet/v1/record.proto",
        "wildnet/v1/federation.proto",
        "wildnet/v1/agency.proto",
        "wildnet/v1/joint.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed=proto/{f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out.join("wildnet_descriptor.bin");
    std::fs::write(&descriptor_path, fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;

    let descriptors = std::fs::read(&descriptor_path)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptors)?
        .preserve_proto_field_names()
        .build(&[".wildnet"])?;
    Ok(())
}
