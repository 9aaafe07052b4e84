//! The machine's own limits, measured first in this process: Ed25519
//! verifications, SHA-256, raw sled with the node's durability.

use std::path::Path;

use indicatif::ProgressBar;

use super::Plan;
use super::report::Report;

/// The limits later figures are compared with.
pub(super) struct Limits {
    /// Ed25519 batch verifications per second, one core.
    pub batch1: f64,
    /// Raw sled inserts per second.
    pub raw_inserts: f64,
}

pub(super) async fn measure(
    plan: &Plan,
    root: &Path,
    bar: &ProgressBar,
    r: &mut Report,
) -> anyhow::Result<Limits> {
    // Limits, measured first.
    bar.set_message("limits: Ed25519, SHA-256");
    let verify1 = wildnet_node::limits::ed25519_single(plan.limit_budget);
    r.add("limit", "Ed25519 verify, 1 core", verify1, "/s");
    let batch1 = wildnet_node::limits::ed25519_batch(plan.limit_budget);
    r.add(
        "limit",
        format!(
            "Ed25519 verify, batches of {}, 1 core",
            wildnet_node::limits::BATCH
        ),
        batch1,
        "/s",
    );
    let (batch_all, cores) = wildnet_node::limits::ed25519_batch_all_cores(plan.limit_budget);
    r.add(
        "limit",
        format!("Ed25519 verify, batches, {cores} cores"),
        batch_all,
        "/s",
    );
    r.add(
        "limit",
        "SHA-256, 1 core",
        wildnet_node::limits::sha256_mb_s(plan.limit_budget),
        "MB/s",
    );
    bar.set_message("limits: raw sled");
    let raw_len = 640;
    let raw = {
        let dir = root.join("raw-sled");
        let n = plan.raw_sled;
        tokio::task::spawn_blocking(move || wildnet_node::storage::raw_sled(&dir, n, raw_len))
            .await??
    };
    r.add(
        "limit",
        format!("sled raw inserts ({raw_len} B + 1 index entry, flush + fdatasync per 1,024)"),
        raw.inserts_per_s,
        "/s",
    );
    // What durability costs: sled's flush is only sync_file_range; the
    // fdatasync after it is what survives a power cut.
    r.add(
        "limit",
        "fdatasync after a flush, median",
        raw.sync_median_ms,
        "ms",
    );
    r.add(
        "limit",
        "share of raw sled time in fdatasync",
        raw.sync_share * 100.0,
        "%",
    );
    let raw_per_record = raw.disk_bytes as f64 / plan.raw_sled as f64;
    r.add("limit", "sled raw disk per record", raw_per_record, "B");

    Ok(Limits {
        batch1,
        raw_inserts: raw.inserts_per_s,
    })
}
