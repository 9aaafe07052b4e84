//! Tombstones: a retraction is the target's author's alone, and final.
//!
//! - A retraction of a held record must come from the record's author; it
//!   deletes the record and leaves a *confirmed* tombstone.
//! - A confirmed tombstone is final: a retraction of the same id by any
//!   other agency is refused (neither stored nor relayed); one by the
//!   author again is stored and changes nothing.
//! - A retraction of an id never held here leaves a *pending* tombstone,
//!   a claim bound to the retracting agency. Retractions of that id by
//!   other agencies add rival claims, each bound to its own author: no
//!   claim can block another, since only the record itself shows who
//!   wrote it.
//! - When a record with a tombstoned id arrives, its author decides: that
//!   author's claim refuses it and becomes the confirmed tombstone; every
//!   other claim is false and is dropped with its retraction record
//!   (audited, logged), so it is neither held nor served further. With no
//!   claim of the author, the record is stored.

use prost::Message;
use wildnet_proto::v1 as pb;

use super::Writer;
use crate::record::{Record, RecordId};
use crate::storage::audit::AuditDraft;
use crate::storage::{StoreError, keys};

/// The audit actor of what storage decides itself.
pub(super) const ACTOR: &str = "node";

impl Writer {
    pub(super) fn tombstone(&self, id: &RecordId) -> Result<Option<pb::Tombstone>, StoreError> {
        self.t
            .tombstones
            .get(id.as_bytes())?
            .map(|v| decode(id, &v))
            .transpose()
    }

    pub(super) fn put_tombstone(
        &mut self,
        id: &RecordId,
        ts: &pb::Tombstone,
    ) -> Result<(), StoreError> {
        let before = self
            .t
            .tombstones
            .insert(id.as_bytes(), ts.encode_to_vec())?;
        if before.is_none() {
            self.bump(keys::TOMBSTONES_COUNT_KEY.to_vec(), 1);
        }
        Ok(())
    }

    /// Removes a tombstone; false when there was none.
    pub(super) fn remove_tombstone(&mut self, id: &RecordId) -> Result<bool, StoreError> {
        let removed = self.t.tombstones.remove(id.as_bytes())?.is_some();
        if removed {
            self.bump(keys::TOMBSTONES_COUNT_KEY.to_vec(), -1);
        }
        Ok(removed)
    }

    /// Applies a retraction, before its record is stored; an `Err` refuses
    /// the retraction record too.
    pub(super) fn retract(
        &mut self,
        retraction: &Record,
        r: &pb::Retraction,
    ) -> Result<(), StoreError> {
        let target: RecordId = r
            .target
            .parse()
            .map_err(|_| StoreError::NotFound(r.target.clone()))?;
        let mut claim = claim(retraction, &target, r);
        let existing = self.tombstone(&target)?;
        if let Some((sr, held)) = self.load_stored(&target)? {
            let author = held.body().author.clone();
            if author != claim.author {
                return Err(not_author(&target, author));
            }
            self.delete(&held, &sr)?;
            if let Some(old) = existing {
                // Only in a data dir hit by the old overwrite defect.
                let others = claims(old).into_iter().filter(|c| c.author != author);
                self.drop_false_claims(&target, others.collect(), &author)?;
            }
            claim.confirmed = true;
            return self.put_tombstone(&target, &claim);
        }
        match existing {
            None => self.put_tombstone(&target, &claim),
            Some(ts) if ts.confirmed && ts.author != claim.author => {
                Err(not_author(&target, ts.author))
            }
            Some(ts) if ts.confirmed => Ok(()),
            Some(mut ts) => {
                if claims_of(&ts).all(|c| c.author != claim.author) {
                    ts.rivals.push(claim);
                    self.put_tombstone(&target, &ts)?;
                }
                Ok(())
            }
        }
    }

    /// Settles the tombstone of an arriving record's id: `Err(Retracted)`
    /// when its author retracted it (the tombstone is then confirmed);
    /// claims by anyone else are dropped. `Ok` when it may be stored.
    pub(super) fn settle(&mut self, rec: &Record) -> Result<(), StoreError> {
        let id = rec.id();
        let Some(ts) = self.tombstone(&id)? else {
            return Ok(());
        };
        let author = rec.body().author.clone();
        let unchanged = ts.confirmed && ts.rivals.is_empty() && ts.author == author;
        let (mine, others): (Vec<_>, Vec<_>) =
            claims(ts).into_iter().partition(|c| c.author == author);
        self.drop_false_claims(&id, others, &author)?;
        let Some(mut claim) = mine.into_iter().next() else {
            self.remove_tombstone(&id)?;
            return Ok(());
        };
        if !unchanged {
            claim.confirmed = true;
            self.put_tombstone(&id, &claim)?;
        }
        Err(StoreError::Retracted {
            id: id.to_hex(),
            reason: claim.reason,
        })
    }

    /// Drops retraction claims on `target` that are not by its `author`:
    /// each retraction record is deleted, audited and logged.
    pub(super) fn drop_false_claims(
        &mut self,
        target: &RecordId,
        claims: Vec<pb::Tombstone>,
        author: &str,
    ) -> Result<(), StoreError> {
        for c in claims {
            if let Ok(rid) = c.retraction.parse::<RecordId>()
                && let Some((sr, r)) = self.load_stored(&rid)?
            {
                self.delete(&r, &sr)?;
            }
            tracing::warn!(
                record = %target,
                retraction = %c.retraction,
                by = %c.author,
                author,
                "a retraction by an agency other than the record's author was dropped"
            );
            let detail = format!(
                "{}: retraction of {target} by {} dropped: {target} was written by {author}",
                c.retraction, c.author
            );
            self.chain.append(
                &self.t.audit,
                AuditDraft {
                    actor: ACTOR.into(),
                    action: "retraction-dropped".into(),
                    detail,
                },
            )?;
        }
        Ok(())
    }
}

fn not_author(target: &RecordId, author: String) -> StoreError {
    StoreError::NotAuthor {
        what: "retraction of",
        target: target.to_hex(),
        author,
    }
}

/// The pending tombstone a retraction of `target` leaves.
pub(super) fn claim(retraction: &Record, target: &RecordId, r: &pb::Retraction) -> pb::Tombstone {
    pb::Tombstone {
        id: target.to_hex(),
        retraction: retraction.id().to_hex(),
        author: retraction.body().author.clone(),
        reason: r.reason.clone(),
        retracted_at: retraction.body().created_at,
        confirmed: false,
        rivals: Vec::new(),
    }
}

/// The tombstone's claim and its rivals, each without rivals.
pub(super) fn claims(mut ts: pb::Tombstone) -> Vec<pb::Tombstone> {
    let rivals = std::mem::take(&mut ts.rivals);
    std::iter::once(ts).chain(rivals).collect()
}

fn claims_of(ts: &pb::Tombstone) -> impl Iterator<Item = &pb::Tombstone> {
    std::iter::once(ts).chain(ts.rivals.iter())
}

pub(super) fn decode(id: &RecordId, v: &[u8]) -> Result<pb::Tombstone, StoreError> {
    pb::Tombstone::decode(v).map_err(|e| StoreError::Corrupt(format!("tombstone {id}: {e}")))
}
