//! Record exchange between peers: the source side of `Pull` (authorisation
//! at the source: only what the caller may hold is put on the wire) and the
//! puller's ingest loop.
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

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::federation_client::FederationClient;

use crate::node::{Ingested, Node};
use crate::policy;

pub mod dial;
pub mod links;

/// Most ids in one Fetch.
pub const FETCH_MAX: usize = 1024;

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Feed entries read per step of a Pull stream.
const PULL_BATCH: usize = 512;
/// Most records stored per ingest batch (one durable write): large
/// batches share posting blocks and the flush (measured best at 4,096).
const INGEST_BATCH: usize = 4096;

/// The source side of Pull/Subscribe for an authenticated `peer`.
pub fn serve_pull(
    node: Arc<Node>,
    peer: String,
    req: pb::PullRequest,
) -> ReceiverStream<Result<pb::PullItem, Status>> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        let Some(fed) = node.federation() else { return };
        let me = node.agency().to_string();
        let mut head = node.store().head_watch();
        let mut closing = fed.closing();
        let mut pos = req.since;
        let mut at_end_sent = false;
        loop {
            // Only up to the durable head: a batch being written is not
            // acknowledged yet.
            let durable = *head.borrow_and_update();
            let batch = match node.store().feed_after(pos, durable, PULL_BATCH) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(cause = %e, "feed read failed");
                    let _ = tx
                        .send(Err(Status::internal(
                            "the source node cannot read its feed",
                        )))
                        .await;
                    return;
                }
            };
            if batch.is_empty() {
                // Nothing held up to the durable head: positions of deleted
                // records count as passed.
                pos = pos.max(durable);
                if !at_end_sent {
                    let mark = pb::PullItem {
                        seq: pos,
                        record: None,
                        caught_up: true,
                    };
                    if tx.send(Ok(mark)).await.is_err() {
                        return;
                    }
                    at_end_sent = true;
                }
                if !req.follow {
                    return;
                }
                tokio::select! {
                    r = head.changed() => if r.is_err() { return },
                    () = tx.closed() => return,
                    () = stopped(&mut closing) => return,
                }
                continue;
            }
            at_end_sent = false;
            let m = fed.current();
            let policy = fed.policy_for(&peer).clone();
            let now = crate::now_ms();
            let mut sent = 0u64;
            let mut quiet_until = None;
            for stored in batch {
                let seq = stored.seq;
                pos = seq;
                // Never echo a record to the peer it came from: it has it.
                let send = (stored.received_from != peer
                    && policy::may_serve(stored.record.body(), &me, &peer, &m, &policy, now))
                .then_some(stored);
                match send {
                    Some(s) => {
                        let item = pb::PullItem {
                            seq,
                            record: Some(s.record.signed().clone()),
                            caught_up: false,
                        };
                        if tx.send(Ok(item)).await.is_err() {
                            return;
                        }
                        sent += 1;
                        quiet_until = None;
                    }
                    None => quiet_until = Some(seq),
                }
            }
            // Positions with nothing for the caller still move its cursor.
            if let Some(seq) = quiet_until
                && tx
                    .send(Ok(pb::PullItem {
                        seq,
                        record: None,
                        caught_up: false,
                    }))
                    .await
                    .is_err()
            {
                return;
            }
            if sent > 0 {
                fed.peer_update(&peer, |p| p.sent += sent);
            }
        }
    });
    ReceiverStream::new(rx)
}

/// Pulls from `peer` until the stream fails, the manifest changes, a sync
/// or completeness check is requested or due (`verify_at`), or the node
/// stops; delivers queued receipts to the peer on the way. Returns Ok to
/// re-handshake, Err to back off.
pub(super) async fn pull(
    node: &Arc<Node>,
    peer: &str,
    client: &mut FederationClient<tonic::transport::Channel>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    sync: &mut tokio::sync::watch::Receiver<u64>,
    verify: &mut tokio::sync::watch::Receiver<u64>,
    verify_at: Option<tokio::time::Instant>,
) -> Result<(), String> {
    let Some(fed) = node.federation() else {
        return Ok(());
    };
    let mut changes = fed.subscribe();
    changes.mark_unchanged();
    let outbox = fed.outbox_signal(peer);
    let mut acks = client.clone();
    let far = tokio::time::Instant::now() + Duration::from_secs(365 * 86_400);
    let verify_at = verify_at.unwrap_or(far);
    let cursor = node.cursor(peer).map_err(|e| e.to_string())?;
    let mut stream = client
        .pull(pb::PullRequest {
            since: cursor,
            follow: true,
        })
        .await
        .map_err(|e| format!("{}: {}", e.code(), e.message()))?
        .into_inner();
    let mut pipe = Pipeline::start(node, peer)?;
    let mut batch: Vec<pb::SignedRecord> = Vec::new();
    let mut upto = cursor;
    // Every way out but a stop stores what was received first.
    let mut store_rest = true;
    let outcome = loop {
        let wait = if batch.is_empty() {
            Duration::from_secs(3600)
        } else {
            Duration::from_millis(2)
        };
        let item = tokio::select! {
            r = stream.message() => r,
            () = tokio::time::sleep(wait) => {
                pipe.push(&mut batch, upto, false).await?;
                continue;
            }
            r = changes.changed() => break if r.is_ok() { Ok(()) } else { Err("stopping".into()) },
            r = sync.changed() => break if r.is_ok() { Ok(()) } else { Err("stopping".into()) },
            r = verify.changed() => break if r.is_ok() { Ok(()) } else { Err("stopping".into()) },
            () = tokio::time::sleep_until(verify_at) => break Ok(()),
            () = outbox.notified() => {
                // Receipts that cannot go now stay queued for the next try;
                // the pull goes on either way.
                if let Err(e) = deliver_receipts(node, peer, &mut acks).await {
                    tracing::warn!(peer, cause = %e, "receipts not delivered; kept for later");
                }
                continue;
            }
            () = stopped(stop) => {
                store_rest = false;
                break Ok(());
            }
        };
        let item = match item {
            Ok(Some(i)) => i,
            Ok(None) => break Err("the peer closed the stream".into()),
            Err(e) => break Err(format!("{}: {}", e.code(), e.message())),
        };
        upto = upto.max(item.seq);
        let position_only = item.record.is_none();
        if let Some(r) = item.record {
            batch.push(r);
        }
        if item.caught_up || position_only || batch.len() >= INGEST_BATCH {
            pipe.push(&mut batch, upto, item.caught_up).await?;
        }
    };
    if store_rest {
        pipe.push(&mut batch, upto, false).await?;
    }
    pipe.finish().await?;
    outcome
}

/// A pulled batch on its way through the ingest pipeline: the records,
/// the feed position the cursor moves to once they are stored, and
/// whether the peer said this was the end of its feed.
struct Batch {
    records: Vec<pb::SignedRecord>,
    upto: u64,
    caught_up: bool,
}

/// The puller's ingest pipeline: verification of one batch (on the cores,
/// off the async threads) overlaps the storage of the one before, and the
/// network keeps receiving meanwhile. Batches are stored in feed order,
/// each in one durable write with its receipts and the cursor move.
struct Pipeline {
    tx: Option<mpsc::Sender<Batch>>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

impl Pipeline {
    fn start(node: &Arc<Node>, peer: &str) -> Result<Pipeline, String> {
        let cursor = node.cursor(peer).map_err(|e| e.to_string())?;
        let (tx, mut rx) = mpsc::channel::<Batch>(2);
        let (checked_tx, mut checked_rx) = mpsc::channel::<(crate::node::Checked, Batch)>(2);
        let verifier = {
            let (node, peer) = (node.clone(), peer.to_string());
            tokio::spawn(async move {
                while let Some(mut b) = rx.recv().await {
                    let records = std::mem::take(&mut b.records);
                    let (n, p) = (node.clone(), peer.clone());
                    let checked = tokio::task::spawn_blocking(move || n.check_pulled(&p, records))
                        .await
                        .map_err(|e| format!("verification task failed: {e}"))?
                        .map_err(|e| e.to_string())?;
                    if checked_tx.send((checked, b)).await.is_err() {
                        break;
                    }
                }
                Ok::<(), String>(())
            })
        };
        let (node, peer) = (node.clone(), peer.to_string());
        let task = tokio::spawn(async move {
            let mut cursor = cursor;
            // Set once a batch was checked under a manifest no longer in
            // force: it and every later one are dropped, the cursor stays,
            // and they are pulled again after the new handshake.
            let mut stale = false;
            while let Some((checked, b)) = checked_rx.recv().await {
                if stale {
                    continue;
                }
                let moves = b.upto > cursor;
                if !checked.good.is_empty() || !checked.rejected.is_empty() || moves {
                    let stored = node
                        .store_pulled(&peer, checked, moves.then_some(b.upto))
                        .await
                        .map_err(|e| format!("storing pulled records failed: {e}"))?;
                    let Some(r) = stored else {
                        stale = true;
                        continue;
                    };
                    account(&node, &peer, &r);
                    if moves {
                        cursor = b.upto;
                        if let Some(fed) = node.federation() {
                            fed.peer_update(&peer, |p| p.cursor = cursor);
                        }
                    }
                }
                if b.caught_up
                    && let Some(fed) = node.federation()
                {
                    fed.peer_update(&peer, |p| p.caught_up_at = crate::now_ms());
                }
            }
            verifier
                .await
                .map_err(|e| format!("verification task failed: {e}"))?
        });
        Ok(Pipeline { tx: Some(tx), task })
    }

    /// Hands a batch (possibly empty: a cursor move) to the pipeline.
    async fn push(
        &mut self,
        batch: &mut Vec<pb::SignedRecord>,
        upto: u64,
        caught_up: bool,
    ) -> Result<(), String> {
        let b = Batch {
            records: std::mem::take(batch),
            upto,
            caught_up,
        };
        let sent = match &self.tx {
            Some(tx) => tx.send(b).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The pipeline stopped: its error says why.
        self.finish()
            .await
            .and(Err("the ingest pipeline stopped".into()))
    }

    /// Stores what is in flight and stops; the first error, if any.
    async fn finish(&mut self) -> Result<(), String> {
        self.tx = None;
        (&mut self.task)
            .await
            .map_err(|e| format!("ingest task failed: {e}"))?
    }
}

impl Drop for Pipeline {
    /// A pull cancelled mid-way (its link was dropped) stops storing: a
    /// write already handed to the writer still completes whole.
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Adds an ingest's outcome to the peer's visible counts.
fn account(node: &Node, peer: &str, r: &Ingested) {
    if let Some(fed) = node.federation() {
        fed.peer_update(peer, |p| {
            p.received += r.received;
            p.duplicates += r.duplicates;
            p.rejected += r.rejected.len() as u64;
            if let Some((id, why)) = r.rejected.last() {
                p.last_rejection = format!("{id}: {why}");
            }
        });
    }
}

fn status(e: Status) -> String {
    format!("{}: {}", e.code(), e.message())
}

/// Sends every receipt queued for `peer`, oldest first, and unqueues
/// those the peer acknowledged.
pub(super) async fn deliver_receipts(
    node: &Arc<Node>,
    peer: &str,
    client: &mut FederationClient<tonic::transport::Channel>,
) -> Result<(), String> {
    loop {
        let queued = node.outbox(peer, 256).map_err(|e| e.to_string())?;
        if queued.is_empty() {
            return Ok(());
        }
        let (keys, receipts): (Vec<_>, Vec<_>) = queued.into_iter().unzip();
        let receipts = receipts
            .into_iter()
            .filter(|r| !r.body.is_empty())
            .collect();
        client
            .acknowledge(pb::ReceiptBatch { receipts })
            .await
            .map_err(|e| format!("delivering receipts: {}", status(e)))?;
        node.outbox_done(keys).await.map_err(|e| e.to_string())?;
    }
}

/// The completeness check with `peer`: reconciles the ids the peer may send
/// this node (under the policy it `announced`) with those held here, then
/// fetches and stores what is missing. The outcome shows in `wildnet peers`.
pub(super) async fn verify(
    node: &Arc<Node>,
    peer: &str,
    client: &mut FederationClient<tonic::transport::Channel>,
    announced: &policy::PeerPolicy,
) -> Result<(), String> {
    use crate::membership::reconcile::Initiator;
    let started = std::time::Instant::now();
    let (n, p, me, pol) = (
        node.clone(),
        peer.to_string(),
        node.agency().to_string(),
        announced.clone(),
    );
    let ours = tokio::task::spawn_blocking(move || n.sendable_ids(&p, &me, &pol))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let held = ours.len();
    let mut init = Initiator::new(ours);
    let (tx, rx) = mpsc::channel(4);
    tx.send(init.first())
        .await
        .map_err(|_| "reconcile: channel closed".to_string())?;
    let mut inbound = client
        .reconcile(ReceiverStream::new(rx))
        .await
        .map_err(status)?
        .into_inner();
    loop {
        let resp = inbound
            .message()
            .await
            .map_err(status)?
            .ok_or("the peer ended the reconciliation early")?;
        match init.step(&resp)? {
            Some(next) => tx
                .send(next)
                .await
                .map_err(|_| "reconcile: channel closed".to_string())?,
            None => break,
        }
    }
    drop(tx);
    let mut missing = Vec::new();
    for id in &init.missing {
        let rid = crate::record::RecordId::from_bytes(*id);
        if !node.knows(&rid).map_err(|e| e.to_string())? {
            missing.push(id.to_vec());
        }
    }
    let mut repaired = 0;
    for chunk in missing.chunks(FETCH_MAX) {
        let records = client
            .fetch(pb::FetchRequest {
                ids: chunk.to_vec(),
            })
            .await
            .map_err(status)?
            .into_inner()
            .records;
        let r = node
            .ingest(peer, records.into_iter().map(|r| (0, r)).collect())
            .await
            .map_err(|e| format!("storing fetched records failed: {e}"))?;
        repaired += r.received;
        account(node, peer, &r);
    }
    let found = missing.len() as u64;
    if found > 0 {
        tracing::warn!(
            peer,
            missing = found,
            repaired,
            "completeness check: records the peer should have sent were missing; fetched"
        );
        node.audit_nowait(
            &format!("peer:{peer}"),
            "verify",
            format!(
                "missing={found} repaired={repaired} peer_lacks={}",
                init.they_lack
            ),
        );
    }
    tracing::info!(
        peer,
        held,
        missing = found,
        repaired,
        peer_lacks = init.they_lack,
        ranges = init.ranges_sent,
        ms = started.elapsed().as_millis() as u64,
        "completeness check done"
    );
    if let Some(fed) = node.federation() {
        fed.peer_update(peer, |p| {
            p.verified_at = crate::now_ms();
            p.verify_missing = found;
            p.verify_repaired = repaired;
            p.verify_peer_lacks = init.they_lack;
            p.verify_ranges = init.ranges_sent;
            p.verify_error.clear();
        });
    }
    Ok(())
}
