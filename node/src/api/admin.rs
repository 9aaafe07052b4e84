//! The Agency API's operator calls: the consistency check and backups.
//! Both run on the store's writer thread between two group commits and
//! are audited with the caller.

use std::time::Instant;

use tonic::Status;
use wildnet_proto::v1 as pb;

use super::status::status;
use crate::node::Node;
use crate::storage::AuditDraft;

/// Runs the check; audits it with the caller and its verdict.
pub(super) async fn check(node: &Node, actor: String) -> Result<pb::CheckResponse, Status> {
    let start = Instant::now();
    let r = node.store().check().await.map_err(|e| status(e.into()))?;
    let verdict = match r.problems.len() {
        0 => format!(
            "sound: {} records, {} index entries",
            r.records, r.index_entries
        ),
        n => format!("{n} problems, the first: {}", r.problems[0]),
    };
    audit(node, actor, "check", verdict).await;
    Ok(pb::CheckResponse {
        records: r.records,
        index_entries: r.index_entries,
        dangling: r.dangling,
        audit_entries: r.audit_entries,
        problems: r.problems,
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}

/// Writes a backup into `dir` (an absolute path on the node's machine).
pub(super) async fn backup(
    node: &Node,
    actor: String,
    dir: &str,
) -> Result<pb::BackupResponse, Status> {
    let path = std::path::Path::new(dir);
    if !path.is_absolute() {
        return Err(Status::invalid_argument(format!(
            "backup dir {dir:?} must be an absolute path (the node's working directory is not yours)"
        )));
    }
    let start = Instant::now();
    let m = node
        .store()
        .backup(path, crate::now_ms())
        .await
        .map_err(|e| status(e.into()))?;
    audit(
        node,
        actor,
        "backup",
        format!("{} records to {dir}", m.records),
    )
    .await;
    Ok(pb::BackupResponse {
        dir: dir.to_string(),
        records: m.records,
        trees: m.trees.len() as u64,
        bytes: m.trees.iter().map(|t| t.bytes).sum(),
        taken_at: m.taken_at,
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}

async fn audit(node: &Node, actor: String, action: &str, detail: String) {
    let entry = AuditDraft {
        actor,
        action: action.into(),
        detail,
    };
    if let Err(e) = node.store().audit(entry, true).await {
        tracing::error!(cause = %e, "audit append failed");
    }
}
