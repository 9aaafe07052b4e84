//! Membership, pure: who is in the federation and how each party proves
//! it — no files, no sockets.
//!
//! - [`manifest`] verifies CA-signed manifests and answers who is who
//!   (certificates, signing keys, groups, revocations).
//! - [`tls`] builds the rustls configurations and the verifiers that check
//!   a peer's certificate against the manifest in force.
//! - [`admission`] checks an agency's admission request.
//! - [`receipts`] signs and verifies delivery receipts.
//! - [`reconcile`] is the range-based set reconciliation of the
//!   completeness check.

pub mod admission;
pub mod manifest;
pub mod receipts;
pub mod reconcile;
pub mod tls;
