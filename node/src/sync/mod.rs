//! The network between nodes: [`links`] keeps one link per peer (dial with
//! [`dial`], Hello, then pull, deliver receipts and check completeness in
//! turn, with backoff); [`serve`] is the source side of Pull; [`pull`] the
//! puller's ingest loop; [`complete`] the completeness check;
//! [`deconflict`] asks peers hit/no-hit questions.
//!
//! Ingest of a pulled batch, in order:
//! 1. every record is verified exactly like a local one, against the
//!    manifest in force: signature over the verbatim bytes, signer key bound
//!    to the author and not revoked before `created_at`, body well formed,
//!    clock skew — whoever relayed it;
//! 2. this node must be in its audience, and an `H2` record must come from
//!    its author's node;
//! 3. the good ones are stored in one durable batch (idempotent by id;
//!    retractions, versions and tombstones apply as for local records) and
//!    join this node's feed, so they relay onward;
//! 4. each rejection is counted, logged and audited with its id and reason,
//!    and the stream goes on;
//! 5. only then does the durable cursor move past the batch.

mod announce;
mod complete;
pub mod deconflict;
pub mod dial;
mod hello;
pub mod links;
mod pull;
mod receipts;
mod serve;

pub use serve::serve_pull;

/// Most ids in one Fetch.
pub const FETCH_MAX: usize = 1024;

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn status(e: tonic::Status) -> String {
    format!("{}: {}", e.code(), e.message())
}
