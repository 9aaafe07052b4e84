//! Ingest of pulled records: verified like local ones on every core, then
//! stored in one durable batch with the receipts they call for and the
//! cursor move; and the id sets of the completeness check. The wire is in
//! [`crate::sync`].

use std::collections::BTreeMap;

use wildnet_proto::v1 as pb;

use super::AddedCache;
use super::{Node, NodeError};
use crate::membership::receipts;
use crate::membership::reconcile::Id;
use crate::policy::{self, PeerPolicy};
use crate::record::operation::is_operation;
use crate::record::{Record, RecordId};
use crate::storage::{InsertItem, Inserted, PeerWrite, StoreError};

/// What one ingest batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// Newly stored.
    pub received: u64,
    /// Already held.
    pub duplicates: u64,
    /// Refused: id, reason, and the reason's class (`/metrics` label).
    pub rejected: Vec<(String, String, &'static str)>,
}

/// Pulled records after [`Node::check_pulled`]: the ones to store, and the
/// refused ones with their id and reason.
#[derive(Default)]
pub struct Checked {
    /// Verified, and this node may hold them.
    pub good: Vec<InsertItem>,
    /// `(id, reason, class)` of each refused record.
    pub rejected: Vec<(String, String, &'static str)>,
    /// The version of the manifest they were checked against.
    pub manifest_version: u64,
    /// Copies of records already held, dropped before verification.
    pub held: u64,
}

impl Node {
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
        let hashed = items
            .into_iter()
            .map(|s| (RecordId::of_body(&s.body), s))
            .collect();
        self.check_hashed(peer, hashed)
    }

    /// [`Node::check_pulled`] of records already hashed: each with its id,
    /// `RecordId::of_body` of its body.
    pub fn check_hashed(
        &self,
        peer: &str,
        items: Vec<(RecordId, pb::SignedRecord)>,
    ) -> Result<Checked, NodeError> {
        let Some(fed) = &self.federation else {
            return Err(NodeError::Refused(
                "this node is not in a federation".into(),
            ));
        };
        let m = fed.current();
        let now = crate::now_ms();
        let me = self.agency.as_str();
        let (items, held) = self.drop_held(items)?;
        let verified =
            crate::limits::par_map(items, |(id, signed): (RecordId, pb::SignedRecord)| {
                // SAFETY (trust): from here on only records that verified
                // against the manifest, exactly like local ones, are used.
                Record::verify_hashed(signed, id, &*m, &self.limits, now)
                    .map_err(|e| (id.to_hex(), e.to_string(), e.reason()))
            });
        // Operations are judged with this batch too: a proposal may come
        // with the update that added this node, or with its answers.
        let ops: Vec<Record> = verified
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|r| is_operation(r.body()))
            .cloned()
            .collect();
        let at_hand: Vec<&Record> = ops.iter().collect();
        let mut added = AddedCache::with_at_hand(ops.clone());
        let mut out = Checked {
            manifest_version: m.version(),
            held,
            ..Checked::default()
        };
        for r in verified {
            let record = match r {
                Ok(record) => record,
                Err(rejected) => {
                    out.rejected.push(rejected);
                    continue;
                }
            };
            let allowed =
                policy::may_receive(record.body(), me, peer, &m, now, added.of(self, &record))
                    .map_err(|d| d.to_string())
                    .and_then(|()| self.check_in_operation(&record, &at_hand));
            match allowed {
                Ok(()) => out.good.push(InsertItem {
                    record,
                    draft_key: None,
                    from: peer.to_string(),
                }),
                Err(why) => out.rejected.push((record.id().to_hex(), why, "policy")),
            }
        }
        Ok(out)
    }

    /// Drops the copies of records already held (a relay's copy of what the
    /// author sent): the id is the SHA-256 of the body, so the held record
    /// is this very body, verified when it was stored. Returns the rest and
    /// how many were dropped.
    fn drop_held(
        &self,
        items: Vec<(RecordId, pb::SignedRecord)>,
    ) -> Result<(Vec<(RecordId, pb::SignedRecord)>, u64), NodeError> {
        let mut rest = Vec::with_capacity(items.len());
        let mut held = 0;
        for (id, signed) in items {
            if self.store.holds(&id)? {
                held += 1;
            } else {
                rest.push((id, signed));
            }
        }
        Ok((rest, held))
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
            held,
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
            duplicates: held,
            ..Ingested::default()
        };
        let ids: Vec<(RecordId, String)> = good
            .iter()
            .map(|i| (i.record.id(), i.record.body().author.clone()))
            .collect();
        let updates: Vec<Record> = good
            .iter()
            .filter(|i| {
                matches!(
                    i.record.body().payload,
                    Some(pb::record_body::Payload::OperationUpdate(_))
                )
            })
            .map(|i| i.record.clone())
            .collect();
        let then = FollowUps {
            ids: ids.clone(),
            key: self.key.clone(),
            me: self.agency.to_string(),
            peer: peer.to_string(),
            cursor,
            in_force,
            manifest_version,
        }
        .into_after_insert();
        let results = if good.is_empty() && cursor.is_none() {
            Vec::new()
        } else {
            self.store.insert_then(good, Vec::new(), Some(then)).await?
        };
        let new: Vec<&Record> = updates
            .iter()
            .filter(|u| {
                ids.iter()
                    .zip(&results)
                    .any(|((id, _), r)| *id == u.id() && matches!(r, Ok(Inserted::New(_))))
            })
            .collect();
        if let Some(why) = self.added_me(&new) {
            self.repull_all(&why).await?;
        }
        let queued = self.tally(peer, ids, results, &mut out)?;
        if queued {
            fed.outbox_signal(peer).notify_one();
        }
        Ok(Some(out))
    }

    /// Counts what an ingest stored, logs and audits it; true when
    /// receipts were queued (records by other agencies were stored).
    fn tally(
        &self,
        peer: &str,
        ids: Vec<(RecordId, String)>,
        results: Vec<Result<Inserted, StoreError>>,
        out: &mut Ingested,
    ) -> Result<bool, NodeError> {
        let mut queued = false;
        for ((id, author), r) in ids.into_iter().zip(results) {
            match r {
                Ok(Inserted::New(_)) => {
                    out.received += 1;
                    queued |= author != self.agency.as_str();
                }
                Ok(Inserted::Duplicate(_)) => out.duplicates += 1,
                // Not stored for a reason of this node's (a full disk): not
                // the record's fault; the pull stops here and resumes from
                // the durable cursor.
                Err(e @ (StoreError::Sled(_) | StoreError::Closed | StoreError::NotDurable(_))) => {
                    return Err(e.into());
                }
                Err(e) => out.rejected.push((id.to_hex(), e.to_string(), "store")),
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
        for (id, why, _) in &out.rejected {
            tracing::warn!(peer, record = %id, reason = %why, "pulled record rejected");
            self.audit_nowait(&actor, "reject", format!("{id}: {why}"));
        }
        Ok(queued)
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
        let mut cache = AddedCache::default();
        self.store.for_each_record(|s| {
            let b = s.record.body();
            let added = cache.of(self, &s.record);
            // The sender must be able to hold it too (on the puller's side,
            // a record of a group the peer is not in is not the peer's to send).
            if policy::in_audience_with(b, sender, &m, now, added)
                && crate::policy::may_serve(b, sender, to, &m, policy, now, added)
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

/// What follows from storing a pulled batch, decided in the writer on its
/// results and written in the same flush: signed receipts towards each
/// author (via the peer), and the peer's cursor.
struct FollowUps {
    ids: Vec<(RecordId, String)>,
    key: ed25519_dalek::SigningKey,
    me: String,
    peer: String,
    cursor: Option<u64>,
    in_force: tokio::sync::watch::Receiver<u64>,
    manifest_version: u64,
}

impl FollowUps {
    fn into_after_insert(self) -> crate::storage::AfterInsert {
        Box::new(move |results, next_id| self.writes(results, next_id))
    }

    fn writes(
        &self,
        results: &[Result<Inserted, StoreError>],
        next_id: &mut dyn FnMut() -> Result<u64, StoreError>,
    ) -> Vec<PeerWrite> {
        let mut writes = Vec::new();
        let mut stored: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
        for ((id, author), r) in self.ids.iter().zip(results) {
            if matches!(r, Ok(Inserted::New(_))) && *author != self.me {
                stored
                    .entry(author.as_str())
                    .or_default()
                    .push(id.as_bytes().to_vec());
            }
        }
        let now = crate::now_ms();
        for (author, ids) in stored {
            for chunk in ids.chunks(receipts::MAX_IDS) {
                let body = pb::ReceiptBody {
                    holder: self.me.clone(),
                    author: author.to_string(),
                    at: now,
                    ids: chunk.to_vec(),
                };
                let receipt = receipts::sign(&body, &self.key);
                match next_id() {
                    Ok(n) => writes.push(PeerWrite::Queue {
                        peer: self.peer.clone(),
                        n,
                        receipt,
                    }),
                    Err(e) => tracing::error!(cause = %e, "no queue number: receipts not queued"),
                }
            }
        }
        // A manifest put in force since the check may have reset the
        // cursors (its reset is queued behind this).
        if let Some(seq) = self.cursor
            && *self.in_force.borrow() == self.manifest_version
        {
            writes.push(PeerWrite::Cursor {
                peer: self.peer.clone(),
                seq,
            });
        }
        writes
    }
}
