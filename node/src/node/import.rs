//! The import pipeline: drafts arrive line by line; each batch is signed on
//! every core (off the async threads) while the batch before it is
//! stored, so signing and the durable write overlap.

use std::sync::Arc;

use tokio::task::JoinHandle;
use wildnet_proto::v1 as pb;

use super::{LineResult, Node, NodeError};
use crate::storage::StoreError;

/// Most drafts signed and stored under one flush during an import.
const IMPORT_BATCH: usize = 4096;
/// Most per-line rejections returned in an import summary.
const MAX_REJECTIONS: usize = 10_000;

/// One import in progress.
#[derive(Debug)]
pub struct Import {
    node: Arc<Node>,
    batch: Vec<(u64, pb::RecordBody)>,
    storing: Option<JoinHandle<Vec<LineResult>>>,
    summary: pb::ImportSummary,
}

impl Import {
    /// Starts an import into `node`.
    pub fn new(node: Arc<Node>) -> Import {
        Import {
            node,
            batch: Vec::with_capacity(IMPORT_BATCH),
            storing: None,
            summary: pb::ImportSummary::default(),
        }
    }

    /// Takes line `line` (`None`: the line had no draft). An `Err` is a
    /// storage failure: the import ends.
    pub async fn push(
        &mut self,
        line: u64,
        draft: Option<pb::RecordBody>,
    ) -> Result<(), NodeError> {
        match draft {
            Some(d) => self.batch.push((line, d)),
            None => reject(&mut self.summary, line, "draft is missing".into()),
        }
        if self.batch.len() >= IMPORT_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Stores what is left and returns the summary.
    pub async fn finish(mut self) -> Result<pb::ImportSummary, NodeError> {
        if !self.batch.is_empty() {
            self.flush().await?;
        }
        if let Some(prev) = self.storing.take() {
            tally(&mut self.summary, prev.await)?;
        }
        let t = self.node.store().telemetry();
        let s = &self.summary;
        for (outcome, n) in [
            ("accepted", s.accepted),
            ("duplicate", s.duplicates),
            ("rejected", s.rejected),
        ] {
            t.import_rows
                .get_or_create(&crate::telemetry::label("outcome", outcome))
                .inc_by(n);
        }
        Ok(self.summary)
    }

    /// Signs the batch, waits for the one being stored, and stores this
    /// one in the background.
    async fn flush(&mut self) -> Result<(), NodeError> {
        let drafts = std::mem::replace(&mut self.batch, Vec::with_capacity(IMPORT_BATCH));
        let node = self.node.clone();
        let prepared = tokio::task::spawn_blocking(move || node.prepare_batch(drafts))
            .await
            .map_err(|e| NodeError::Internal(format!("signing task failed: {e}")))?;
        if let Some(prev) = self.storing.take() {
            tally(&mut self.summary, prev.await)?;
        }
        let node = self.node.clone();
        self.storing = Some(tokio::spawn(
            async move { node.store_batch(prepared).await },
        ));
        Ok(())
    }
}

/// Adds a stored batch's results to the summary; a storage failure ends
/// the import.
fn tally(
    summary: &mut pb::ImportSummary,
    stored: Result<Vec<LineResult>, tokio::task::JoinError>,
) -> Result<(), NodeError> {
    let stored = stored.map_err(|e| NodeError::Internal(format!("storage task failed: {e}")))?;
    for (line, r) in stored {
        match r {
            Ok(p) if p.duplicate => summary.duplicates += 1,
            Ok(_) => summary.accepted += 1,
            Err(NodeError::Store(
                e @ (StoreError::Closed | StoreError::Sled(_) | StoreError::NotDurable(_)),
            )) => {
                return Err(NodeError::Store(e));
            }
            Err(e) => reject(summary, line, e.to_string()),
        }
    }
    Ok(())
}

fn reject(summary: &mut pb::ImportSummary, line: u64, reason: String) {
    summary.rejected += 1;
    if summary.rejections.len() < MAX_REJECTIONS {
        summary
            .rejections
            .push(pb::ImportRejection { line, reason });
    }
}
