//! The puller: a peer's feed from the durable cursor, verified on every
//! core while the batch before is stored (see the module doc of
//! [`super`] for the steps of one batch).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::federation_client::FederationClient;

use super::{announce, stopped};
use crate::federation::InFlightGuard;
use crate::node::{Ingested, Node};
use crate::record::RecordId;

/// Most records stored per ingest batch (one durable write): large
/// batches share posting blocks and the flush (measured best at 4,096).
const INGEST_BATCH: usize = 4096;

/// A pulled batch on its way through the ingest pipeline: the records,
/// the feed position the cursor moves to once they are stored (0: none),
/// and whether the peer said this was the end of its feed.
#[derive(Default)]
struct Batch {
    got: Received,
    upto: u64,
    caught_up: bool,
    /// Its records' ids in flight, until the batch is stored or dropped.
    in_flight: Vec<InFlightGuard>,
}

/// What a pull received since the last batch: records in full, and ids of
/// relayed records announced (announce mode), to fetch if lacking.
#[derive(Default)]
struct Received {
    records: Vec<pb::SignedRecord>,
    announced: Vec<Vec<u8>>,
}

impl Received {
    fn len(&self) -> usize {
        self.records.len() + self.announced.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub(super) type Client = FederationClient<tonic::transport::Channel>;

/// The puller's ingest pipeline: verification of one batch (on the cores,
/// off the async threads) overlaps the storage of the one before, and the
/// network keeps receiving meanwhile. Batches are stored in feed order,
/// each in one durable write with its receipts and the cursor move.
struct Pipeline {
    tx: Option<mpsc::Sender<Batch>>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

/// The pipeline's first stage: each batch verified on every core (off the
/// async threads), handed on in order. Records that came in full are held
/// in flight until stored; announced ones are fetched if lacking (see
/// [`super::announce`]).
async fn verify_batches(
    node: Arc<Node>,
    peer: String,
    mut client: Client,
    mut rx: mpsc::Receiver<Batch>,
    checked_tx: mpsc::Sender<(crate::node::Checked, Batch)>,
) -> Result<(), String> {
    let Some(in_flight) = node.federation().map(|f| f.in_flight().clone()) else {
        return Ok(());
    };
    while let Some(mut b) = rx.recv().await {
        let Received { records, announced } = std::mem::take(&mut b.got);
        let mut full: Vec<(RecordId, pb::SignedRecord)> = records
            .into_iter()
            .map(|s| (RecordId::of_body(&s.body), s))
            .collect();
        b.in_flight
            .push(in_flight.hold(full.iter().map(|(id, _)| *id).collect()));
        if !announced.is_empty() {
            let mut lacking = announce::lacking(&node, &peer, announced)?;
            let elsewhere = in_flight.of(&lacking);
            if !elsewhere.is_empty() {
                // Another pull has them in full: store this batch's own
                // records first, without the cursor move, so that no pull
                // ever waits on one that waits (they would wait in a
                // ring), then wait for those copies.
                let first = Batch {
                    in_flight: std::mem::take(&mut b.in_flight),
                    ..Batch::default()
                };
                let checked = check(&node, &peer, std::mem::take(&mut full)).await?;
                if checked_tx.send((checked, first)).await.is_err() {
                    break;
                }
                let deadline = tokio::time::Instant::now() + announce::WAIT;
                in_flight.settled(&elsewhere, deadline).await;
                lacking = announce::still_lacking(&node, lacking)?;
            }
            let fetched = announce::fetch(&node, &peer, &mut client, &lacking).await?;
            b.in_flight
                .push(in_flight.hold(fetched.iter().map(|(id, _)| *id).collect()));
            full.extend(fetched);
        }
        let checked = check(&node, &peer, full).await?;
        if checked_tx.send((checked, b)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// [`Node::check_hashed`] off the async threads.
async fn check(
    node: &Arc<Node>,
    peer: &str,
    records: Vec<(RecordId, pb::SignedRecord)>,
) -> Result<crate::node::Checked, String> {
    let (n, p) = (node.clone(), peer.to_string());
    tokio::task::spawn_blocking(move || n.check_hashed(&p, records))
        .await
        .map_err(|e| format!("verification task failed: {e}"))?
        .map_err(|e| e.to_string())
}

impl Pipeline {
    fn start(node: &Arc<Node>, peer: &str, client: Client) -> Result<Pipeline, String> {
        let cursor = node.cursor(peer).map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel::<Batch>(2);
        let (checked_tx, mut checked_rx) = mpsc::channel::<(crate::node::Checked, Batch)>(2);
        let verifier = tokio::spawn(verify_batches(
            node.clone(),
            peer.to_string(),
            client,
            rx,
            checked_tx,
        ));
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
                let any = !checked.good.is_empty() || !checked.rejected.is_empty();
                if any || checked.held > 0 || moves {
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
        batch: &mut Received,
        upto: u64,
        caught_up: bool,
    ) -> Result<(), String> {
        let b = Batch {
            got: std::mem::take(batch),
            upto,
            caught_up,
            in_flight: Vec::new(),
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

/// Pulls from `peer` until the stream fails, the manifest changes, a sync
/// or completeness check is requested or due (`verify_at`), or the node
/// stops; delivers queued receipts to the peer on the way. Returns Ok to
/// re-handshake, Err to back off. One select loop over the stream and every
/// reason to stop, kept whole (over 60 lines on purpose).
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
            announce_relayed: fed.wanted_peers().len() > 1,
        })
        .await
        .map_err(|e| format!("{}: {}", e.code(), e.message()))?
        .into_inner();
    let mut pipe = Pipeline::start(node, peer, client.clone())?;
    let mut batch = Received::default();
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
                if let Err(e) = super::receipts::deliver_receipts(node, peer, &mut acks).await {
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
        let position_only = item.record.is_none() && item.id.is_empty();
        if let Some(r) = item.record {
            batch.records.push(r);
        } else if !item.id.is_empty() {
            batch.announced.push(item.id);
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

/// Adds an ingest's outcome to the peer's visible counts.
pub(super) fn account(node: &Node, peer: &str, r: &Ingested) {
    if let Some(fed) = node.federation() {
        fed.peer_update(peer, |p| {
            p.received += r.received;
            p.duplicates += r.duplicates;
            p.rejected += r.rejected.len() as u64;
            if let Some((id, why, _)) = r.rejected.last() {
                p.last_rejection = format!("{id}: {why}");
            }
        });
    }
    let t = node.store().telemetry();
    for (_, _, reason) in &r.rejected {
        crate::telemetry::Telemetry::inc(
            &t.rejected,
            vec![
                ("peer", peer.to_string()),
                ("reason", (*reason).to_string()),
            ],
        );
    }
}
