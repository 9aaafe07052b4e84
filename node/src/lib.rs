//! wildnet-node: one agency's node of the wildnet federation.
//!
//! - [`record`] holds the domain types (record ids, agency ids) and the one
//!   place that signs and verifies records: Ed25519 over the verbatim body
//!   bytes, never re-encoded.
//! - [`species`] is the shipped CITES reference table that normalises names.
//! - [`identity`] creates and loads the agency's two keys (Ed25519 for
//!   records, ECDSA P-256 for TLS) and its admission request.
//! - [`config`] parses `node.toml` and validates it into runtime settings.
//! - [`storage`] is the only module that touches sled: records, feed,
//!   indexes, tombstones, audit chain, with group commit.
//! - [`node`] is the agency's domain operations (publish, import, query,
//!   retract …) on top of storage; [`service`] maps them onto the gRPC
//!   Agency service and does nothing else.
//! - [`federation`] is membership: the CA-signed manifest, mutual TLS
//!   between agency nodes, the Federation service and the peer links.
//! - [`policy`] decides, as pure functions, who may hold a record and
//!   whether this node may send it to a peer.
//! - [`server`] runs the listeners (Unix socket, optional TCP) with health
//!   and reflection until shutdown; [`client`] connects to a node.

pub mod client;
pub mod config;
pub mod federation;
pub mod identity;
pub mod limits;
pub mod node;
pub mod policy;
pub mod record;
pub mod server;
pub mod service;
pub mod species;
pub mod storage;

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
