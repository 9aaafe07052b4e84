//! Resources at the stored size: RSS, disk against raw sled with the same
//! bytes, start-up time.

use std::path::Path;

use indicatif::ProgressBar;
use wildnet_testbed::Node;

use super::report::Report;
use super::{Plan, RAW_KEY_BYTES};

pub(super) async fn measure(
    plan: &Plan,
    root: &Path,
    ke: &mut Node,
    stored: u64,
    bar: &ProgressBar,
    r: &mut Report,
) -> anyhow::Result<()> {
    // Resources at the stored size.
    bar.set_message("resources and restart");
    r.add(
        "resources",
        format!("node RSS at {stored} records"),
        ke.rss() as f64 / 1e6,
        "MB",
    )
    .target("< 300 MB");
    let disk = wildnet_node::storage::disk_usage(&ke.dir.join("data"));
    ke.terminate()?;
    bar.set_message("limits: raw sled with the node's bytes per record");
    let (per_record, same_per_record) = same_bytes(plan, root, ke, r).await?;
    r.add(
        "resources",
        "bytes the node stores per record (keys + values, all trees)",
        per_record,
        "B",
    );
    r.add(
        "limit",
        "sled raw disk per record for those bytes",
        same_per_record,
        "B",
    );
    r.add(
        "resources",
        "disk per record",
        disk as f64 / stored as f64,
        "B",
    )
    .vs("sled raw disk for the same bytes", same_per_record)
    .target("<= 1.5x raw");
    let startup = ke.start_process()?;
    r.add(
        "resources",
        format!("start-up holding {stored} records"),
        startup.as_secs_f64(),
        "s",
    );
    Ok(())
}

/// The same bytes in raw sled: what the node's trees hold per record (keys
/// and values), and raw sled's disk per record for one value of that size
/// plus one index entry.
async fn same_bytes(
    plan: &Plan,
    root: &Path,
    ke: &Node,
    r: &mut Report,
) -> anyhow::Result<(f64, f64)> {
    let logical = {
        let db = ke.dir.join("data").join("db");
        tokio::task::spawn_blocking(move || wildnet_node::storage::logical_bytes(&db)).await??
    };
    let rows = logical.records.max(1) as f64;
    let keys: u64 = logical.keys.iter().map(|(_, n)| n).sum();
    r.add(
        "resources",
        "sled keys per record, all trees",
        keys as f64 / rows,
        "",
    )
    .target("<= 4.5");
    for (tree, n) in logical.keys.iter().take(5) {
        r.add(
            "resources",
            format!("  of which in {tree}"),
            *n as f64 / rows,
            "",
        );
    }
    let per_record = logical.bytes as f64 / rows;
    let same_len = (per_record as usize).saturating_sub(RAW_KEY_BYTES).max(1);
    let same = {
        let dir = root.join("raw-sled-same");
        let n = plan.raw_sled;
        tokio::task::spawn_blocking(move || wildnet_node::storage::raw_sled(&dir, n, same_len))
            .await??
    };
    Ok((per_record, same.disk_bytes as f64 / plan.raw_sled as f64))
}
