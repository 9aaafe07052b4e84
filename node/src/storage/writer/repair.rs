//! Repair at open, for data dirs hit by the tombstone-overwrite defect.
//!
//! Before the rules of [`super::tombstones`], a retraction of an id whose
//! body was not held overwrote any tombstone, whoever sent it, and a later
//! copy of the record was refused only if its author was the one the
//! tombstone named. So a peer could replace an author's tombstone by its
//! own and then bring the retracted record back. The evidence survives:
//! every retraction record that was accepted is held. At each open the
//! held retraction records are grouped by target, and:
//! - a held target that its own author retracted is deleted again, with
//!   the author's tombstone restored (confirmed);
//! - a held target that only other agencies retracted keeps its body;
//! - a target not held that this node retracted itself (a local
//!   retraction is only ever of a held record of this agency) gets this
//!   node's tombstone back, confirmed;
//! - any other target keeps every claim as a pending tombstone, so a later
//!   copy is refused if its author is one of them.
//!
//! In every case the retractions of agencies shown not to be the author
//! are dropped. Each mended id is audited (`retraction-repaired`) and
//! logged. Cost: one read per held retraction record, found through the
//! kind index; a data dir that needs no repair is not written.

use std::collections::BTreeMap;

use wildnet_proto::v1 as pb;

use super::Writer;
use super::tombstones::{ACTOR, claim, claims};
use crate::record::terms::Field;
use crate::record::{Record, RecordId};
use crate::storage::audit::AuditDraft;
use crate::storage::{StoreError, decode_row, keys};

/// One held retraction record.
struct Claim {
    tombstone: pb::Tombstone,
    /// Made by this node (not received from a peer).
    local: bool,
}

impl Writer {
    /// Mends every retracted id whose tombstone or body contradicts the
    /// retraction records held; returns how many ids were mended.
    pub(super) fn repair_retractions(&mut self) -> Result<usize, StoreError> {
        let mut mended = 0;
        for (target, found) in self.held_retractions()? {
            if let Some(what) = self.repair_one(&target, found)? {
                mended += 1;
                tracing::warn!(record = %target, "{what}");
                self.chain.append(
                    &self.t.audit,
                    AuditDraft {
                        actor: ACTOR.into(),
                        action: "retraction-repaired".into(),
                        detail: format!("{target}: {what}"),
                    },
                )?;
            }
        }
        Ok(mended)
    }

    /// The held retraction records, by target.
    fn held_retractions(&self) -> Result<BTreeMap<RecordId, Vec<Claim>>, StoreError> {
        let prefix = keys::index_prefix(Field::Kind, "retraction");
        let mut out: BTreeMap<RecordId, Vec<Claim>> = BTreeMap::new();
        for entry in crate::storage::rare::all_entries(&self.t, &prefix)? {
            let seq = keys::entry_seq(&entry);
            let Some(row) = self.t.records.get(seq.to_be_bytes())? else {
                continue;
            };
            let (sr, rec) = decode_row(seq, &row)?;
            if let Some((target, tombstone)) = claim_of(&rec) {
                out.entry(target).or_default().push(Claim {
                    tombstone,
                    local: sr.received_from.is_empty(),
                });
            }
        }
        Ok(out)
    }

    /// Mends one target; says what it did, or `None` when all was in order.
    fn repair_one(
        &mut self,
        target: &RecordId,
        found: Vec<Claim>,
    ) -> Result<Option<String>, StoreError> {
        let current = self.tombstone(target)?;
        if let Some((sr, held)) = self.load_stored(target)? {
            let author = held.body().author.clone();
            let (mine, others): (Vec<_>, Vec<_>) = found
                .into_iter()
                .map(|c| c.tombstone)
                .partition(|c| c.author == author);
            self.drop_false_claims(target, others, &author)?;
            let Some(mut claim) = mine.into_iter().next() else {
                return Ok(self.remove_tombstone(target)?.then(|| {
                    format!("held record of {author}: other agencies' tombstone removed")
                }));
            };
            self.delete(&held, &sr)?;
            claim.confirmed = true;
            self.put_tombstone(target, &claim)?;
            return Ok(Some(format!(
                "record stored after its author's retraction deleted again; \
                 {author}'s tombstone restored (retraction {})",
                claim.retraction
            )));
        }
        let evidence = match &current {
            Some(ts) if ts.confirmed => Some(ts.clone()),
            _ => found.iter().find(|c| c.local).map(|c| c.tombstone.clone()),
        };
        if let Some(mut own) = evidence {
            let author = own.author.clone();
            let others: Vec<_> = found
                .into_iter()
                .map(|c| c.tombstone)
                .filter(|c| c.author != author)
                .collect();
            self.drop_false_claims(target, others, &author)?;
            own.confirmed = true;
            own.rivals.clear();
            if current.as_ref() == Some(&own) {
                return Ok(None);
            }
            let overwritten = current.is_some_and(|ts| ts.author != author);
            self.put_tombstone(target, &own)?;
            return Ok(overwritten.then(|| {
                format!(
                    "tombstone overwritten by another agency: {author}'s restored (retraction {})",
                    own.retraction
                )
            }));
        }
        self.keep_all_claims(target, current, found)
    }

    /// No proof of authorship: every claim on `target` stays pending.
    fn keep_all_claims(
        &mut self,
        target: &RecordId,
        current: Option<pb::Tombstone>,
        found: Vec<Claim>,
    ) -> Result<Option<String>, StoreError> {
        let mut all: Vec<pb::Tombstone> = current.clone().map(claims).unwrap_or_default();
        for c in found {
            if all.iter().all(|a| a.author != c.tombstone.author) {
                all.push(c.tombstone);
            }
        }
        let mut all = all.into_iter();
        let Some(mut ts) = all.next() else {
            return Ok(None);
        };
        ts.confirmed = false;
        ts.rivals = all.collect();
        if current.as_ref() == Some(&ts) {
            return Ok(None);
        }
        self.put_tombstone(target, &ts)?;
        Ok(current.map(|_| {
            "tombstone overwritten by another agency: every retraction of it kept, \
             pending until the record shows its author"
                .to_string()
        }))
    }
}

/// The target and the claim of a retraction record.
fn claim_of(rec: &Record) -> Option<(RecordId, pb::Tombstone)> {
    let Some(pb::record_body::Payload::Retraction(r)) = &rec.body().payload else {
        return None;
    };
    let target: RecordId = r.target.parse().ok()?;
    Some((target, claim(rec, &target, r)))
}
