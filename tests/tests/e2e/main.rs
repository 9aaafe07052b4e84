//! End-to-end tests: real `wildnet-node` processes on temp dirs, driven by
//! the real `wildnet` CLI and by gRPC over the node's Unix socket.

mod alerts;
mod backup;
mod bench;
mod completeness;
mod correlation;
mod crash;
mod dashboard;
mod deconfliction;
mod demo;
mod durability;
mod errors;
mod federation;
mod hostile;
mod interop;
mod interfaces;
mod lifecycle;
mod limits;
mod operations;
mod refusals;
mod relay;
mod retraction;
mod rotation;
mod status;
mod sync;
mod walkthrough;
mod web;
