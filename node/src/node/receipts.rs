//! Delivery receipts: queued towards authors, accepted and kept on the
//! author's node (who holds what), forwarded the way the records came.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use wildnet_proto::v1 as pb;

use super::{Node, NodeError};
use crate::membership::receipts;
use crate::record::RecordId;
use crate::storage::{PeerWrite, QueueKey};

/// A batch of receipts checked: how many were accepted, the writes that
/// record holders, and the receipts to forward, by peer.
type Sorted = (u32, Vec<PeerWrite>, BTreeMap<String, Vec<pb::Receipt>>);

impl Node {
    /// Queues receipts for delivery to `peer`, durably.
    async fn queue_receipts(&self, peer: &str, rs: Vec<pb::Receipt>) -> Result<(), NodeError> {
        if rs.is_empty() {
            return Ok(());
        }
        let mut writes = Vec::with_capacity(rs.len());
        for receipt in rs {
            writes.push(PeerWrite::Queue {
                peer: peer.to_string(),
                n: self.store.next_queue_number()?,
                receipt,
            });
        }
        self.store.write_peer_state(writes).await?;
        if let Some(fed) = &self.federation {
            fed.outbox_signal(peer).notify_one();
        }
        Ok(())
    }

    /// Up to `limit` receipts waiting for `peer`, with their queue keys
    /// (an undecodable one comes as an empty receipt, to be dropped).
    pub fn outbox(
        &self,
        peer: &str,
        limit: usize,
    ) -> Result<Vec<(QueueKey, pb::Receipt)>, NodeError> {
        let mut out = Vec::new();
        for (k, r) in self.store.queued(peer, limit)? {
            out.push((
                k,
                r.unwrap_or_else(|| {
                    tracing::error!("dropping an undecodable queued receipt");
                    pb::Receipt::default()
                }),
            ));
        }
        Ok(out)
    }

    /// How many receipts wait for `peer` (counted up to 100,000).
    pub fn outbox_len(&self, peer: &str) -> usize {
        self.store.queued_len(peer, 100_000).unwrap_or(0)
    }

    /// Removes delivered receipts from the queue.
    pub async fn outbox_done(&self, keys: Vec<QueueKey>) -> Result<(), NodeError> {
        let writes = keys.into_iter().map(PeerWrite::Delivered).collect();
        Ok(self.store.write_peer_state(writes).await?)
    }

    /// Takes receipts from `peer`: each is verified against the manifest;
    /// those for this agency's records are kept (who holds what), the rest
    /// are forwarded towards their author along the way the records came.
    /// Returns how many were accepted.
    pub async fn accept_receipts(
        &self,
        peer: &str,
        batch: pb::ReceiptBatch,
    ) -> Result<u32, NodeError> {
        let Some(fed) = &self.federation else {
            return Err(NodeError::Refused(
                "this node is not in a federation".into(),
            ));
        };
        let m = fed.current();
        // Reads of every id named (and of operations' records): off the
        // runtime's workers, so a large batch holds up no other call.
        let sort = || self.sort_receipts(peer, batch, &m);
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let (accepted, writes, forward) = if multi {
            tokio::task::block_in_place(sort)?
        } else {
            sort()?
        };
        if !writes.is_empty() {
            self.store.write_peer_state(writes).await?;
        }
        for (t, rs) in forward {
            self.queue_receipts(&t, rs).await?;
        }
        Ok(accepted)
    }

    /// Checks each receipt of a batch: the writes that record who holds
    /// this agency's records, the receipts to forward towards their
    /// authors, and how many were accepted.
    fn sort_receipts(
        &self,
        peer: &str,
        batch: pb::ReceiptBatch,
        m: &crate::membership::manifest::Trusted,
    ) -> Result<Sorted, NodeError> {
        let now = crate::now_ms();
        let mut accepted = 0u32;
        let mut writes = Vec::new();
        let mut forward: BTreeMap<String, Vec<pb::Receipt>> = BTreeMap::new();
        let mut added = super::AddedCache::default();
        for r in batch.receipts {
            let Some(body) = self.checked_receipt(peer, &r, m, now) else {
                continue;
            };
            if body.author == self.agency.as_str() {
                let (w, outside) = self.holder_writes(&body, &r, m, &mut added)?;
                if !outside.is_empty() {
                    self.refuse_receipt(
                        peer,
                        format!(
                            "{} claims to hold {}, outside its audience when it says it stored it: it cannot have received it",
                            body.holder,
                            outside.iter().map(RecordId::to_hex).collect::<Vec<_>>().join(", ")
                        ),
                    );
                    continue;
                }
                writes.extend(w);
            } else {
                for t in self.towards_author(peer, &body)? {
                    forward.entry(t).or_default().push(r.clone());
                }
            }
            accepted += 1;
        }
        Ok((accepted, writes, forward))
    }

    /// The body of a receipt that verifies against the manifest and is not
    /// dated ahead; a refused one is logged and audited.
    fn checked_receipt(
        &self,
        peer: &str,
        r: &pb::Receipt,
        m: &crate::membership::manifest::Trusted,
        now: i64,
    ) -> Option<pb::ReceiptBody> {
        match receipts::verify(r, m) {
            Ok(b) if b.at <= now.saturating_add(self.limits.max_clock_skew_ms) => Some(b),
            Ok(b) => {
                let ahead = b.at - now;
                self.refuse_receipt(
                    peer,
                    format!(
                        "receipt from {} dated {} s ahead of this node's clock (allowed: {} s, [limits] clock_skew_secs)",
                        b.holder,
                        ahead / 1000,
                        self.limits.max_clock_skew_ms / 1000
                    ),
                );
                None
            }
            Err(e) => {
                self.refuse_receipt(peer, e.to_string());
                None
            }
        }
    }

    /// A refused receipt: logged, audited, counted against the peer and
    /// named in its state (`wildnet peers`).
    fn refuse_receipt(&self, peer: &str, why: String) {
        tracing::warn!(peer, cause = %why, "receipt refused");
        if let Some(fed) = &self.federation {
            fed.peer_update(peer, |p| {
                p.rejected += 1;
                p.last_rejection = format!("receipt: {why}");
            });
        }
        crate::telemetry::Telemetry::inc(
            &self.store.telemetry().rejected,
            vec![("peer", peer.to_string()), ("reason", "receipt".into())],
        );
        self.audit_nowait(&format!("peer:{peer}"), "receipt-refused", why);
    }

    /// On the author's node: who holds which of this agency's records (held
    /// or retracted since), and the receipt that proves it; and the ids the
    /// holder is not in the audience of (it cannot have received them).
    fn holder_writes(
        &self,
        body: &pb::ReceiptBody,
        r: &pb::Receipt,
        m: &crate::membership::manifest::Trusted,
        added: &mut super::AddedCache,
    ) -> Result<(Vec<PeerWrite>, Vec<RecordId>), NodeError> {
        let hash: [u8; 32] = Sha256::digest(&r.body).into();
        let mut writes = Vec::new();
        let mut outside = Vec::new();
        for id in &body.ids {
            let Some(rid) = RecordId::from_slice(id) else {
                continue;
            };
            let ours = match self.store.get(&rid)? {
                Some(s) if s.record.body().author == self.agency.as_str() => {
                    // In the audience when the holder says it stored it.
                    let added = added.of(self, &s.record);
                    if !crate::policy::in_audience_with(
                        s.record.body(),
                        &body.holder,
                        m,
                        body.at,
                        added,
                    ) {
                        outside.push(rid);
                        continue;
                    }
                    true
                }
                Some(_) => false,
                // Retracted since: the receipt still says who held it.
                None => self.store.tombstone(&rid)?.is_some(),
            };
            if ours {
                writes.push(PeerWrite::Holder {
                    id: rid,
                    holder: body.holder.clone(),
                    at: body.at,
                    proof: hash,
                });
            }
        }
        if !writes.is_empty() {
            writes.push(PeerWrite::Proof {
                hash,
                receipt: r.clone(),
            });
        }
        Ok((writes, outside))
    }

    /// The peers a receipt goes on to: the way its records came to this
    /// node (never back to `peer`).
    fn towards_author(&self, peer: &str, body: &pb::ReceiptBody) -> Result<Vec<String>, NodeError> {
        let mut towards: Vec<String> = Vec::new();
        for id in &body.ids {
            if let Some(rid) = RecordId::from_slice(id)
                && let Some(s) = self.store.get(&rid)?
                && !s.received_from.is_empty()
                && s.received_from != peer
                && !towards.contains(&s.received_from)
            {
                towards.push(s.received_from);
            }
        }
        Ok(towards)
    }

    /// On the author's node: who holds record `id`, by signed receipt
    /// (agency, when stored), sorted by agency.
    pub fn holders(&self, id: &RecordId) -> Result<Vec<(String, i64)>, NodeError> {
        Ok(self.store.holders(id)?)
    }
}
