//! The node's side of the exchange with peers: cursors and policy epochs,
//! ingest of pulled records, the id sets of the completeness check, and
//! delivery receipts. The wire is in `federation::{service, sync}`.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use wildnet_proto::v1 as pb;

use super::{Node, NodeError};
use crate::membership::receipts;
use crate::membership::reconcile::Id;
use crate::policy::{self, PeerPolicy};
use crate::record::{Record, RecordId};
use crate::storage::{InsertItem, Inserted, PeerWrite, QueueKey, StoreError};

/// What one ingest batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// Newly stored.
    pub received: u64,
    /// Already held.
    pub duplicates: u64,
    /// Refused, with id and reason.
    pub rejected: Vec<(String, String)>,
}

/// Pulled records after [`Node::check_pulled`]: the ones to store, and the
/// refused ones with their id and reason.
#[derive(Default)]
pub struct Checked {
    /// Verified, and this node may hold them.
    pub good: Vec<InsertItem>,
    /// `(id, reason)` of each refused record.
    pub rejected: Vec<(String, String)>,
    /// The version of the manifest they were checked against.
    pub manifest_version: u64,
}

impl Node {
    /// How far this node has pulled `peer`'s feed.
    pub fn cursor(&self, peer: &str) -> Result<u64, NodeError> {
        Ok(self.store.cursor(peer)?)
    }

    /// Durably records how far `peer`'s feed is pulled.
    pub async fn set_cursor(&self, peer: &str, seq: u64) -> Result<(), NodeError> {
        let peer = peer.to_string();
        let write = PeerWrite::Cursor { peer, seq };
        Ok(self.store.write_peer_state(vec![write]).await?)
    }

    /// Pulls every peer's feed again from the start (ids dedupe).
    pub async fn reset_cursors(&self, why: &str) -> Result<(), NodeError> {
        let Some(fed) = &self.federation else {
            return Ok(());
        };
        let m = fed.current();
        let mut writes = Vec::new();
        for a in &m.body().agencies {
            if a.id != self.agency.as_str() {
                writes.push(PeerWrite::Cursor {
                    peer: a.id.clone(),
                    seq: 0,
                });
                fed.peer_update(&a.id, |p| p.cursor = 0);
            }
        }
        self.store.write_peer_state(writes).await?;
        tracing::info!(why, "re-pulling every peer from the start");
        self.audit_nowait("node", "re-pull", why.to_string());
        fed.sync_now();
        Ok(())
    }

    /// This node's policy epoch towards `peer`.
    pub fn policy_epoch(&self, peer: &str) -> u64 {
        self.store
            .policy(peer)
            .ok()
            .flatten()
            .map_or(0, |p| p.epoch)
    }

    /// Compares the `[federation.share]` policy towards each agency of the
    /// manifest with the one last in force, and bumps that peer's policy
    /// epoch when it widened (the peer then re-pulls from the start).
    /// Returns the peers whose epoch grew.
    pub async fn refresh_policy_epochs(&self) -> Result<Vec<String>, NodeError> {
        let Some(fed) = &self.federation else {
            return Ok(Vec::new());
        };
        let m = fed.current();
        let mut bumped = Vec::new();
        let mut writes = Vec::new();
        for a in &m.body().agencies {
            if a.id == self.agency.as_str() {
                continue;
            }
            let now = fed.policy_for(&a.id);
            let before = self.store.policy(&a.id).ok().flatten();
            let epoch = match &before {
                None => 0,
                Some(b) if policy::widens(&policy::from_pb(b), now) => {
                    bumped.push(a.id.clone());
                    b.epoch + 1
                }
                Some(b) if &policy::from_pb(b) == now => continue,
                Some(b) => b.epoch,
            };
            writes.push(PeerWrite::Policy {
                peer: a.id.clone(),
                policy: policy::to_pb(now, epoch),
            });
        }
        if !writes.is_empty() {
            self.store.write_peer_state(writes).await?;
        }
        for p in &bumped {
            tracing::info!(peer = %p, epoch = self.policy_epoch(p), "sharing policy widened: the peer will re-pull");
            self.audit_nowait(
                "node",
                "policy-widened",
                format!("{p}: epoch {}", self.policy_epoch(p)),
            );
        }
        Ok(bumped)
    }

    /// Takes the peer's Hello: when its policy epoch towards us grew (its
    /// policy widened) or its feed restarted below our cursor, re-pulls it
    /// from the start. Returns why, when it did.
    pub async fn check_peer_epoch(
        &self,
        peer: &str,
        epoch: u64,
        head: u64,
    ) -> Result<Option<String>, NodeError> {
        let seen = self.store.peer_epoch(peer)?;
        let cursor = self.cursor(peer)?;
        let why = if epoch > seen {
            Some(format!(
                "{peer} widened its sharing policy (epoch {seen} -> {epoch})"
            ))
        } else if head < cursor {
            Some(format!(
                "{peer}'s feed ends at {head}, before this node's cursor {cursor} (its data was reset)"
            ))
        } else {
            None
        };
        if why.is_some() || epoch != seen {
            let mut writes = vec![PeerWrite::Epoch {
                peer: peer.to_string(),
                epoch,
            }];
            if why.is_some() {
                let reset = PeerWrite::Cursor {
                    peer: peer.to_string(),
                    seq: 0,
                };
                writes.insert(0, reset);
            }
            self.store.write_peer_state(writes).await?;
        }
        if let Some(w) = &why {
            tracing::info!(peer, reason = %w, "re-pulling the peer from the start");
            self.audit_nowait(&format!("peer:{peer}"), "re-pull", w.clone());
        }
        Ok(why)
    }

    /// Verifies and stores records pulled from `peer` (see
    /// `sync` for the steps), then queues signed receipts for
    /// the newly stored ones towards their authors, via `peer`.
    pub async fn ingest(
        &self,
        peer: &str,
        items: Vec<(u64, pb::SignedRecord)>,
    ) -> Result<Ingested, NodeError> {
        let checked = self.check_pulled(peer, items.into_iter().map(|(_, r)| r).collect())?;
        Ok(self
            .store_pulled(peer, checked, None)
            .await?
            .unwrap_or_default())
    }

    /// The CPU half of an ingest: verifies pulled records exactly like
    /// local ones against the manifest in force, and checks this node may
    /// receive them from `peer`. Spreads the signature checks over the
    /// cores; runs on the caller's thread (use a blocking task).
    pub fn check_pulled(
        &self,
        peer: &str,
        items: Vec<pb::SignedRecord>,
    ) -> Result<Checked, NodeError> {
        let Some(fed) = &self.federation else {
            return Err(NodeError::Refused(
                "this node is not in a federation".into(),
            ));
        };
        let m = fed.current();
        let now = crate::now_ms();
        let me = self.agency.as_str();
        let check = |signed: pb::SignedRecord| {
            let id = RecordId::of_body(&signed.body).to_hex();
            // SAFETY (trust): from here on only records that verified
            // against the manifest, exactly like local ones, are used.
            Record::verify(signed, &*m, &self.limits, now)
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    policy::may_receive(r.body(), me, peer, &m, now)
                        .map(|()| r)
                        .map_err(|d| d.to_string())
                })
                .map_err(|why| (id, why))
        };
        let results = crate::limits::par_map(items, check);
        let mut out = Checked {
            manifest_version: m.version(),
            ..Checked::default()
        };
        for r in results {
            match r {
                Ok(record) => out.good.push(InsertItem {
                    record,
                    draft_key: None,
                    from: peer.to_string(),
                }),
                Err(rejected) => out.rejected.push(rejected),
            }
        }
        Ok(out)
    }

    /// The storage half of an ingest: stores the checked records in one
    /// durable batch and, in the same flush, queues signed receipts for
    /// the newly stored ones (towards their authors, via `peer`) and moves
    /// the peer's cursor to `cursor` when given. `None`, with nothing
    /// stored, when the manifest changed since the check: the records must
    /// be checked again (the cursor stays, so they are pulled again).
    pub async fn store_pulled(
        &self,
        peer: &str,
        checked: Checked,
        cursor: Option<u64>,
    ) -> Result<Option<Ingested>, NodeError> {
        let Checked {
            good,
            rejected,
            manifest_version,
        } = checked;
        let Some(fed) = &self.federation else {
            return Err(NodeError::Refused(
                "this node is not in a federation".into(),
            ));
        };
        if fed.current().version() != manifest_version {
            return Ok(None);
        }
        let in_force = fed.subscribe();
        let mut out = Ingested {
            rejected,
            ..Ingested::default()
        };
        let ids: Vec<(RecordId, String)> = good
            .iter()
            .map(|i| (i.record.id(), i.record.body().author.clone()))
            .collect();
        let then = {
            let ids = ids.clone();
            let key = self.key.clone();
            let me = self.agency.to_string();
            let peer = peer.to_string();
            let now = crate::now_ms();
            Box::new(
                move |results: &[Result<Inserted, StoreError>],
                      next_id: &mut dyn FnMut() -> Result<u64, StoreError>| {
                    let mut writes = Vec::new();
                    let mut stored: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
                    for ((id, author), r) in ids.iter().zip(results) {
                        if matches!(r, Ok(Inserted::New(_))) && *author != me {
                            stored
                                .entry(author.as_str())
                                .or_default()
                                .push(id.as_bytes().to_vec());
                        }
                    }
                    for (author, ids) in stored {
                        for chunk in ids.chunks(receipts::MAX_IDS) {
                            let body = pb::ReceiptBody {
                                holder: me.clone(),
                                author: author.to_string(),
                                at: now,
                                ids: chunk.to_vec(),
                            };
                            let receipt = receipts::sign(&body, &key);
                            match next_id() {
                                Ok(n) => writes.push(PeerWrite::Queue {
                                    peer: peer.clone(),
                                    n,
                                    receipt,
                                }),
                                Err(e) => {
                                    tracing::error!(cause = %e, "no queue number: receipts not queued");
                                }
                            }
                        }
                    }
                    // A manifest put in force since the check may have
                    // reset the cursors (its reset is queued behind this).
                    if let Some(seq) = cursor
                        && *in_force.borrow() == manifest_version
                    {
                        writes.push(PeerWrite::Cursor {
                            peer: peer.clone(),
                            seq,
                        });
                    }
                    writes
                },
            ) as crate::storage::AfterInsert
        };
        let results = if good.is_empty() && cursor.is_none() {
            Vec::new()
        } else {
            self.store.insert_then(good, Vec::new(), Some(then)).await?
        };
        let mut queued = false;
        for ((id, author), r) in ids.into_iter().zip(results) {
            match r {
                Ok(Inserted::New(_)) => {
                    out.received += 1;
                    queued |= author != self.agency.as_str();
                }
                Ok(Inserted::Duplicate(_)) => out.duplicates += 1,
                Err(e @ (StoreError::Sled(_) | StoreError::Closed)) => return Err(e.into()),
                Err(e) => out.rejected.push((id.to_hex(), e.to_string())),
            }
        }
        let actor = format!("peer:{peer}");
        if out.received > 0 || out.duplicates > 0 {
            self.audit_nowait(
                &actor,
                "receive",
                format!("received={} duplicates={}", out.received, out.duplicates),
            );
        }
        for (id, why) in &out.rejected {
            tracing::warn!(peer, record = %id, reason = %why, "pulled record rejected");
            self.audit_nowait(&actor, "reject", format!("{id}: {why}"));
        }
        if queued {
            fed.outbox_signal(peer).notify_one();
        }
        Ok(Some(out))
    }

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
        let now = crate::now_ms();
        let mut accepted = 0u32;
        let mut writes = Vec::new();
        let mut forward: BTreeMap<String, Vec<pb::Receipt>> = BTreeMap::new();
        for r in batch.receipts {
            let body = match receipts::verify(&r, &*m) {
                Ok(b) if b.at <= now + crate::record::MAX_CLOCK_SKEW_MS => b,
                Ok(b) => {
                    self.audit_nowait(
                        &format!("peer:{peer}"),
                        "receipt-refused",
                        format!("receipt from {} dated in the future ({})", b.holder, b.at),
                    );
                    continue;
                }
                Err(e) => {
                    tracing::warn!(peer, cause = %e, "receipt refused");
                    self.audit_nowait(&format!("peer:{peer}"), "receipt-refused", e.to_string());
                    continue;
                }
            };
            accepted += 1;
            if body.author == self.agency.as_str() {
                let hash: [u8; 32] = Sha256::digest(&r.body).into();
                let mut kept = false;
                for id in &body.ids {
                    let Some(rid) = RecordId::from_slice(id) else {
                        continue;
                    };
                    let ours = match self.store.get(&rid)? {
                        Some(s) => s.record.body().author == self.agency.as_str(),
                        // Retracted since: the receipt still says who held it.
                        None => self.store.tombstone(&rid)?.is_some(),
                    };
                    if !ours {
                        continue;
                    }
                    writes.push(PeerWrite::Holder {
                        id: rid,
                        holder: body.holder.clone(),
                        at: body.at,
                        proof: hash,
                    });
                    kept = true;
                }
                if kept {
                    writes.push(PeerWrite::Proof {
                        hash,
                        receipt: r.clone(),
                    });
                }
            } else {
                // Forward along the way the records came to this node.
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
                for t in towards {
                    forward.entry(t).or_default().push(r.clone());
                }
            }
        }
        if !writes.is_empty() {
            self.store.write_peer_state(writes).await?;
        }
        for (t, rs) in forward {
            self.queue_receipts(&t, rs).await?;
        }
        Ok(accepted)
    }

    /// On the author's node: who holds record `id`, by signed receipt
    /// (agency, when stored), sorted by agency.
    pub fn holders(&self, id: &RecordId) -> Result<Vec<(String, i64)>, NodeError> {
        Ok(self.store.holders(id)?)
    }

    /// The ids of held records that `sender` may send to `to` under
    /// `policy` and the manifest in force, not expired, sorted: the set the
    /// completeness check compares. On the source, `sender` is this node;
    /// on the puller, `sender` is the peer and `policy` the one it announced.
    pub fn sendable_ids(
        &self,
        sender: &str,
        to: &str,
        policy: &PeerPolicy,
    ) -> Result<Vec<Id>, NodeError> {
        let Some(fed) = &self.federation else {
            return Ok(Vec::new());
        };
        let m = fed.current();
        let now = crate::now_ms();
        let mut out = Vec::new();
        self.store.for_each_record(|s| {
            let b = s.record.body();
            // The sender must be able to hold it too (on the puller's side,
            // a record of a group the peer is not in is not the peer's to send).
            if policy::in_audience(b, sender, &m, now)
                && crate::policy::may_serve(b, sender, to, &m, policy, now)
            {
                out.push(*s.record.id().as_bytes());
            }
            Ok(())
        })?;
        out.sort_unstable();
        Ok(out)
    }

    /// Whether the id is held or was retracted by its author here
    /// (nothing to fetch). A pending tombstone does not count: fetching
    /// the record shows whose retraction holds.
    pub fn knows(&self, id: &RecordId) -> Result<bool, NodeError> {
        Ok(self.store.get(id)?.is_some() || self.store.tombstone(id)?.is_some_and(|t| t.confirmed))
    }
}
