//! Publishing: a draft is normalised, validated, signed and stored (one,
//! or an import batch signed on every core); a new version or retraction
//! must name one of this agency's records.

use prost::Message;
use sha2::{Digest, Sha256};
use wildnet_proto::v1 as pb;

use super::{Node, NodeError, Published};
use crate::record::{self, Record, RecordId, normalize};
use crate::storage::{AuditDraft, InsertItem, Inserted, StoreError};

/// Import results: per line, the outcome.
pub type LineResult = (u64, Result<Published, NodeError>);

/// Drafts after [`Node::prepare_batch`], ready for [`Node::store_batch`].
#[derive(Default)]
pub struct PreparedBatch {
    items: Vec<InsertItem>,
    lines: Vec<(u64, RecordId)>,
    failed: Vec<LineResult>,
}

impl Node {
    /// Turns a draft into a signed record: defaults, normalisation, author
    /// and time, validation, signature. Also returns the draft digest.
    pub fn prepare(&self, mut draft: pb::RecordBody) -> Result<(Record, [u8; 32]), NodeError> {
        draft.schema_version = record::SCHEMA_VERSION;
        draft.author = self.agency.to_string();
        draft.created_at = 0;
        let tlp_unset = draft.handling.as_ref().is_none_or(|h| h.tlp == 0);
        let h = draft.handling.get_or_insert_with(Default::default);
        if h.tlp == 0 {
            h.tlp = pb::Tlp::Amber as i32;
        }
        if h.scope == 0 {
            h.scope = pb::Scope::Local as i32;
        }
        if h.code == 0 {
            h.code = pb::HandlingCode::H0 as i32;
        }
        normalize::draft(&mut draft, &self.species)?;
        self.fit_operation_draft(&mut draft, tlp_unset)?;
        let digest: [u8; 32] = Sha256::digest(draft.encode_to_vec()).into();
        draft.created_at = crate::now_ms();
        record::validate::validate_body(&draft, &self.limits)?;
        self.check_signer(
            self.agency.as_str(),
            &self.key.verifying_key(),
            draft.created_at,
        )
        .map_err(|e| {
            NodeError::Refused(format!(
                "this node's signing key cannot sign for {} under the manifest in force: {e}",
                self.agency
            ))
        })?;
        let rec = Record::sign(draft, &self.key);
        if rec.signed().body.len() > self.limits.max_body_bytes {
            return Err(NodeError::Invalid(format!(
                "record body is {} bytes, over the limit of {} ([limits] max_body_bytes)",
                rec.signed().body.len(),
                self.limits.max_body_bytes
            )));
        }
        self.check_references(&rec)?;
        Ok((rec, digest))
    }

    /// A new version or retraction must name one of this agency's records.
    fn check_references(&self, rec: &Record) -> Result<(), NodeError> {
        let body = rec.body();
        let mut targets = Vec::new();
        if !body.supersedes.is_empty() {
            targets.push(("supersede", body.supersedes.as_str()));
        }
        if let Some(pb::record_body::Payload::Retraction(r)) = &body.payload {
            targets.push(("retract", r.target.as_str()));
        }
        for (what, t) in targets {
            let id: RecordId = t
                .parse()
                .map_err(|_| NodeError::Invalid(format!("cannot {what} {t:?}: not a record id")))?;
            if let Some(ts) = self.store.tombstone(&id)? {
                return Err(NodeError::Refused(format!(
                    "cannot {what} {}: it was retracted ({})",
                    id.short(),
                    ts.reason
                )));
            }
            let Some(s) = self.store.get(&id)? else {
                return Err(NodeError::Invalid(format!(
                    "cannot {what} {}: no such record here",
                    id.short()
                )));
            };
            if s.record.body().author != self.agency.as_str() {
                return Err(NodeError::Refused(format!(
                    "cannot {what} {}: it was written by {}, and only its author may",
                    id.short(),
                    s.record.body().author
                )));
            }
            if what == "supersede"
                && let Some(newer) = s.superseded_by
            {
                return Err(NodeError::Refused(format!(
                    "cannot supersede {}: it already has a newer version {}; edit that one",
                    id.short(),
                    newer.short()
                )));
            }
        }
        Ok(())
    }

    /// Signs and durably stores one draft.
    pub async fn publish(
        &self,
        draft: pb::RecordBody,
        actor: &str,
    ) -> Result<Published, NodeError> {
        let kind = record::kind_of(&draft);
        let (rec, digest) = self.prepare(draft).inspect_err(|e| {
            // A refusal says who tried what (an update of another lead's
            // operation, an answer from outside it, …).
            if let NodeError::Refused(why) = e {
                self.audit_nowait(actor, "refuse", format!("{kind}: {why}"));
            }
        })?;
        let id = rec.id();
        let audit = AuditDraft {
            actor: actor.to_string(),
            action: "publish".into(),
            detail: format!("{kind} {id}"),
        };
        let mut results = self
            .store
            .insert(
                vec![InsertItem {
                    record: rec,
                    draft_key: Some(digest),
                    from: String::new(),
                }],
                vec![audit],
            )
            .await?;
        match results.pop() {
            Some(Ok(Inserted::New(_))) => {
                self.count_publish(kind);
                Ok(Published {
                    id,
                    duplicate: false,
                })
            }
            Some(Ok(Inserted::Duplicate(existing))) => Ok(Published {
                id: existing,
                duplicate: true,
            }),
            Some(Err(e)) => Err(e.into()),
            None => Err(NodeError::Store(StoreError::Closed)),
        }
    }

    /// Signs and stores a batch of drafts with one flush; a bad draft is
    /// answered with its reason and the others go on.
    pub async fn publish_batch(&self, drafts: Vec<(u64, pb::RecordBody)>) -> Vec<LineResult> {
        let prepared = self.prepare_batch(drafts);
        self.store_batch(prepared).await
    }

    /// The CPU half of [`Node::publish_batch`]: prepares (normalises,
    /// validates, signs) every draft, spread over the cores. Runs on the
    /// caller's thread (use a blocking task).
    pub fn prepare_batch(&self, drafts: Vec<(u64, pb::RecordBody)>) -> PreparedBatch {
        let mut batch = PreparedBatch::default();
        let prepared = crate::limits::par_map(drafts, |(line, d)| (line, self.prepare(d)));
        for (line, p) in prepared {
            match p {
                Ok((record, digest)) => {
                    batch.lines.push((line, record.id()));
                    batch.items.push(InsertItem {
                        record,
                        draft_key: Some(digest),
                        from: String::new(),
                    });
                }
                Err(e) => batch.failed.push((line, Err(e))),
            }
        }
        batch
    }

    /// The storage half of [`Node::publish_batch`]: one durable write;
    /// results by line.
    pub async fn store_batch(&self, batch: PreparedBatch) -> Vec<LineResult> {
        let PreparedBatch {
            items,
            lines,
            failed: mut out,
        } = batch;
        if items.is_empty() {
            return out;
        }
        let kinds: Vec<&'static str> = items.iter().map(|i| i.record.kind()).collect();
        match self.store.insert(items, Vec::new()).await {
            Ok(results) => {
                for (((line, id), r), kind) in lines.into_iter().zip(results).zip(kinds) {
                    out.push((
                        line,
                        match r {
                            Ok(Inserted::New(_)) => {
                                self.count_publish(kind);
                                Ok(Published {
                                    id,
                                    duplicate: false,
                                })
                            }
                            Ok(Inserted::Duplicate(e)) => Ok(Published {
                                id: e,
                                duplicate: true,
                            }),
                            Err(e) => Err(e.into()),
                        },
                    ));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for (line, _) in lines {
                    out.push((
                        line,
                        Err(NodeError::Store(StoreError::NotDurable(msg.clone()))),
                    ));
                }
            }
        }
        out.sort_by_key(|(l, _)| *l);
        out
    }

    /// Retracts one of this agency's records with every version of it
    /// (older and newer), in one durable batch. Returns the id of the
    /// retraction of the record named.
    pub async fn retract(
        &self,
        id_text: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Published, NodeError> {
        let target = self.store.resolve(id_text)?;
        if let Some(t) = self.store.tombstone(&target)? {
            return Err(NodeError::Refused(format!(
                "{} is already retracted ({})",
                target.short(),
                t.reason
            )));
        }
        let mut versions = self.store.history(&target)?;
        versions.reverse();
        let mut items = Vec::new();
        let mut audit = Vec::new();
        let mut named = None;
        for v in versions {
            let vid = v.record.id();
            let draft = pb::RecordBody {
                handling: self.retraction_handling(&v.record),
                payload: Some(pb::record_body::Payload::Retraction(pb::Retraction {
                    target: vid.to_hex(),
                    reason: reason.to_string(),
                })),
                ..Default::default()
            };
            let (record, digest) = self.prepare(draft)?;
            if vid == target {
                named = Some(record.id());
            }
            audit.push(AuditDraft {
                actor: actor.to_string(),
                action: "retract".into(),
                detail: format!("{vid} by {}", record.id()),
            });
            items.push(InsertItem {
                record,
                draft_key: Some(digest),
                from: String::new(),
            });
        }
        let named = named.ok_or_else(|| {
            NodeError::Invalid(format!("no record {} to retract", target.short()))
        })?;
        for r in self.store.insert(items, audit).await? {
            r?;
        }
        Ok(Published {
            id: named,
            duplicate: false,
        })
    }
}

impl Node {
    /// Counts a newly stored record of this agency's (`/metrics`).
    fn count_publish(&self, kind: &str) {
        let t = self.store.telemetry();
        crate::telemetry::Telemetry::inc(&t.publishes, crate::telemetry::label("kind", kind));
    }
}
