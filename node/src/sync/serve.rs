//! The source side of Pull/Subscribe: authorisation at the source — only
//! what the caller may hold is put on the wire, in feed order, following
//! new records live.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use wildnet_proto::v1 as pb;

use super::stopped;
use crate::node::Node;
use crate::policy;
use crate::storage::FeedEntry;

/// Feed entries read per step of a Pull stream.
const PULL_BATCH: usize = 512;

/// The source side of Pull/Subscribe for an authenticated `peer`.
pub fn serve_pull(
    node: Arc<Node>,
    peer: String,
    req: pb::PullRequest,
) -> ReceiverStream<Result<pb::PullItem, Status>> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        let _ = serve(&node, &peer, &req, &tx).await;
    });
    ReceiverStream::new(rx)
}

type Items = mpsc::Sender<Result<pb::PullItem, Status>>;

/// The caller went away, or the node is shutting down: stop serving.
struct Gone;

/// Streams the feed from `req.since` until the caller goes, the node
/// stops, or (without `follow`) the durable head is reached.
async fn serve(node: &Node, peer: &str, req: &pb::PullRequest, tx: &Items) -> Result<(), Gone> {
    let Some(fed) = node.federation() else {
        return Err(Gone);
    };
    let mut head = node.store().head_watch();
    let mut closing = fed.closing();
    let mut pos = req.since;
    let mut at_end_sent = false;
    loop {
        // Only up to the durable head: a batch being written is not
        // acknowledged yet.
        let durable = *head.borrow_and_update();
        let batch = match node.store().feed_entries_after(pos, durable, PULL_BATCH) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(cause = %e, "feed read failed");
                let failed = Status::internal("the source node cannot read its feed");
                let _ = tx.send(Err(failed)).await;
                return Err(Gone);
            }
        };
        if !batch.is_empty() {
            at_end_sent = false;
            pos = send_batch(node, peer, req.announce_relayed, batch, tx).await?;
            continue;
        }
        // Nothing held up to the durable head: positions of deleted
        // records count as passed.
        pos = pos.max(durable);
        if !at_end_sent {
            send(tx, pos, Item::Nothing, true).await?;
            at_end_sent = true;
        }
        if !req.follow {
            return Ok(());
        }
        tokio::select! {
            r = head.changed() => if r.is_err() { return Err(Gone) },
            () = tx.closed() => return Err(Gone),
            () = stopped(&mut closing) => return Err(Gone),
        }
    }
}

/// Sends what of `batch` the peer may hold, in feed order (relayed
/// records as their ids when `announce`); returns the last position
/// passed. Decided from each record's envelope: only an operation's
/// records are decoded (who the lead added is in the operation).
async fn send_batch(
    node: &Node,
    peer: &str,
    announce: bool,
    batch: Vec<FeedEntry>,
    tx: &Items,
) -> Result<u64, Gone> {
    let Some(fed) = node.federation() else {
        return Err(Gone);
    };
    let me = node.agency().to_string();
    let m = fed.current();
    let policy = fed.policy_for(peer).clone();
    let now = crate::now_ms();
    let mut sent = 0u64;
    let mut quiet_until = None;
    let mut pos = 0;
    let mut added = crate::node::AddedCache::default();
    for entry in batch {
        pos = entry.seq;
        let e = &entry.envelope;
        let added = if e.is_operation() {
            added_of(node, &mut added, &entry)
        } else {
            Vec::new()
        };
        // Never echo a record to the peer it came from: it has it.
        if entry.received_from == peer || !policy::may_serve(e, &me, peer, &m, &policy, now, &added)
        {
            quiet_until = Some(pos);
            continue;
        }
        quiet_until = None;
        if announce && e.author != me {
            let id = entry.id.as_bytes().to_vec();
            send(tx, pos, Item::Id(id), false).await?;
        } else {
            send(tx, pos, Item::Record(entry.signed), false).await?;
            sent += 1;
        }
    }
    // Positions with nothing for the caller still move its cursor.
    if let Some(seq) = quiet_until {
        send(tx, seq, Item::Nothing, false).await?;
    }
    if sent > 0 {
        fed.peer_update(peer, |p| p.sent += sent);
    }
    Ok(pos)
}

/// The agencies the lead of an operation record's operation added (none
/// if its bytes do not decode: fail closed).
fn added_of(node: &Node, cache: &mut crate::node::AddedCache, entry: &FeedEntry) -> Vec<String> {
    match crate::record::Record::from_stored(entry.signed.clone()) {
        Ok(r) => cache.of(node, &r).to_vec(),
        Err(_) => Vec::new(),
    }
}

/// What one feed position carries for the caller.
enum Item {
    /// The record, verbatim.
    Record(pb::SignedRecord),
    /// A relayed record's id (announce mode): fetched if the caller lacks it.
    Id(Vec<u8>),
    /// Nothing for the caller: a cursor move.
    Nothing,
}

async fn send(tx: &Items, seq: u64, what: Item, caught_up: bool) -> Result<(), Gone> {
    let (record, id) = match what {
        Item::Record(r) => (Some(r), Vec::new()),
        Item::Id(id) => (None, id),
        Item::Nothing => (None, Vec::new()),
    };
    let item = pb::PullItem {
        seq,
        record,
        caught_up,
        id,
    };
    tx.send(Ok(item)).await.map_err(|_| Gone)
}
