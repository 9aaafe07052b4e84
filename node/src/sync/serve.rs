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
