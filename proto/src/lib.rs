//! The wildnet protobuf schema, package `wildnet.v1`: the record model and
//! the Agency service, generated at build time with protox + prost + tonic.
//! Every message also has serde impls (proto3 JSON mapping with the
//! `.proto` field names) so the CLI can read drafts and print JSON.
#![allow(missing_docs, unreachable_pub, clippy::all)]

/// Generated code for package `wildnet.v1`.
pub mod v1 {
    tonic::include_proto!("wildnet.v1");
    include!(concat!(env!("OUT_DIR"), "/wildnet.v1.serde.rs"));
}

/// Encoded `FileDescriptorSet` of every wildnet `.proto`, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/wildnet_descriptor.bin"));
