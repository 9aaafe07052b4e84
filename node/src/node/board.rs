//! The operation board (`wildnet op show`) and list (`op list`): one
//! operation as this node sees it — participants with their latest
//! answers and delivery receipts, tasks, targets with their correlations
//! and deconfliction hits, the signed timeline, outcome totals from the
//! linked seizures, overdue answers.

use wildnet_proto::v1 as pb;

use super::correlate::keys_of;
use super::{Node, NodeError};
use crate::record::operation::{Operation, Status};
use crate::record::terms::Field;
use crate::record::{Record, RecordId, selector};
use crate::storage::Query;

use pb::record_body::Payload as P;

/// Most proposals `op list` reads.
const MAX_LISTED: usize = 10_000;

impl Node {
    /// Every operation whose proposal this node holds, newest first.
    pub fn operations(&self) -> Result<Vec<pb::OperationSummary>, NodeError> {
        let mut q = Query {
            terms: vec![(Field::Kind, "operation_proposal".into())],
            limit: 1000,
            ..Default::default()
        };
        let now = crate::now_ms();
        let mut out = Vec::new();
        loop {
            let page = self.store.query(&q)?;
            for s in page.records {
                if let Some(op) = self.operation(&s.record.id(), &[])? {
                    out.push(self.summary(&op, now));
                }
            }
            match page.next.as_deref().and_then(Query::after_token) {
                Some(after) if out.len() < MAX_LISTED => q.after = Some(after),
                _ => break,
            }
        }
        Ok(out)
    }

    fn summary(&self, op: &Operation, now: i64) -> pb::OperationSummary {
        let p = op.proposal();
        pb::OperationSummary {
            id: op.id().to_hex(),
            code_name: p.code_name.clone(),
            lead: op.lead().to_string(),
            status: op.status().name().to_string(),
            window_start: p.window_start,
            window_end: p.window_end,
            participants: count(op.participants().len()),
            answered: count(op.latest_responses().len()),
            overdue: count(op.overdue(now).len()),
            role: self.role(op),
        }
    }

    fn role(&self, op: &Operation) -> String {
        if op.lead() == self.agency.as_str() {
            "lead".into()
        } else {
            "participant".into()
        }
    }

    /// The board of the operation `id_text` names (id or unique prefix).
    pub fn board(&self, id_text: &str) -> Result<pb::OperationBoard, NodeError> {
        let id = self.store.resolve(id_text)?;
        let op = self.operation(&id, &[])?.ok_or_else(|| {
            NodeError::Invalid(format!(
                "{} is not an operation proposal this node holds (see `wildnet op list`)",
                id.short()
            ))
        })?;
        let p = op.proposal();
        let now = crate::now_ms();
        let overdue = op.overdue(now);
        Ok(pb::OperationBoard {
            id: op.id().to_hex(),
            code_name: p.code_name.clone(),
            objective: p.objective.clone(),
            lead: op.lead().to_string(),
            status: op.status().name().to_string(),
            window_start: p.window_start,
            window_end: p.window_end,
            respond_by: op.respond_by(),
            tlp: tlp_name(&op.proposal),
            participants: self.board_participants(&op, &overdue)?,
            tasks: p.tasks.clone(),
            targets: self.board_targets(&op)?,
            timeline: timeline(op.counted_with_proposal().map(|r| (r, String::new()))),
            outcome: Some(self.outcome(&op)?),
            overdue,
            ignored: timeline(op.ignored.iter().map(|(r, why)| (r, why.to_string()))),
            deconfliction: Vec::new(),
            role: self.role(&op),
        })
    }

    fn board_participants(
        &self,
        op: &Operation,
        overdue: &[String],
    ) -> Result<Vec<pb::BoardParticipant>, NodeError> {
        let me = self.agency.as_str();
        let answers = op.latest_responses();
        let added = op.added();
        let received = if op.lead() == me {
            self.holders(&op.id())?
        } else {
            Vec::new()
        };
        let mut out = Vec::new();
        for a in op.participants() {
            let mut row = pb::BoardParticipant {
                agency: a.clone(),
                added_later: added.contains(&a),
                overdue: overdue.contains(&a),
                proposal_received_at: received
                    .iter()
                    .find(|(h, _)| *h == a)
                    .map_or(0, |(_, at)| *at),
                ..Default::default()
            };
            if let Some((rec, r)) = answers.get(&a) {
                row.answer = answer_name(r.answer).into();
                row.commitments = r.commitments.clone();
                row.contact = r.contact.clone();
                row.answered_at = rec.body().created_at;
                row.response = rec.id().to_hex();
                if a == me {
                    row.answer_received_by = self
                        .holders(&rec.id())?
                        .into_iter()
                        .map(|(h, _)| h)
                        .collect();
                }
            }
            out.push(row);
        }
        Ok(out)
    }

    fn board_targets(&self, op: &Operation) -> Result<Vec<pb::BoardTarget>, NodeError> {
        let p = op.proposal();
        let kept = self.store.followups()?;
        let own: Vec<RecordId> = op.counted_with_proposal().map(Record::id).collect();
        let elsewhere = |keys: &[String]| -> Vec<pb::DeconflictAnswer> {
            kept.iter()
                .filter(|a| a.outcome == "HIT" && keys.contains(&a.selector))
                .cloned()
                .collect()
        };
        let mut out = Vec::new();
        for t in &p.target_records {
            let mut row = pb::BoardTarget {
                target: t.clone(),
                kind: "record".into(),
                ..Default::default()
            };
            if let Ok(id) = t.parse::<RecordId>()
                && let Some(s) = self.store.get(&id)?
            {
                row.held = true;
                row.record_kind = s.record.kind().into();
                row.record_author = s.record.body().author.clone();
                row.correlations = count(self.correlation_count(&s)?);
                row.held_elsewhere = elsewhere(&keys_of(&s));
            }
            out.push(row);
        }
        let region = selector::region_of(op.proposal.body());
        for sel in &p.target_selectors {
            let Some(key) = selector::correlation_key(sel, region.as_deref()) else {
                continue;
            };
            let l = self.links(&key, None, false)?;
            let others = l
                .records
                .iter()
                .filter(|s| !own.contains(&s.record.id()))
                .count();
            out.push(pb::BoardTarget {
                target: key.clone(),
                kind: "selector".into(),
                correlations: count(others),
                suppressed: l.suppressed.map(|s| s.to_string()).unwrap_or_default(),
                held_elsewhere: elsewhere(std::slice::from_ref(&key)),
                ..Default::default()
            });
        }
        Ok(out)
    }

    /// The correlation keys of an operation's targets: its selectors, and
    /// the selectors of the target records held here.
    pub fn target_keys(&self, id_text: &str) -> Result<Vec<String>, NodeError> {
        let board = self.board(id_text)?;
        let mut keys = Vec::new();
        for t in &board.targets {
            if t.kind == "selector" {
                keys.push(t.target.clone());
            } else if let Ok(id) = t.target.parse::<RecordId>()
                && let Some(s) = self.store.get(&id)?
            {
                keys.extend(keys_of(&s));
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Totals over the linked seizures this node holds.
    fn outcome(&self, op: &Operation) -> Result<pb::OperationOutcome, NodeError> {
        let mut out = pb::OperationOutcome {
            text: op.outcome().to_string(),
            seizures: op.seizures(),
            ..Default::default()
        };
        for s in &out.seizures.clone() {
            let Ok(id) = s.parse::<RecordId>() else {
                continue;
            };
            if let Some(st) = self.store.get(&id)?
                && let Some(P::Seizure(z)) = &st.record.body().payload
            {
                out.seizures_held += 1;
                out.items += u64::from(z.quantity);
                out.weight_grams += z.weight_grams;
                for sp in &z.species {
                    if !out.species.contains(&sp.scientific_name) {
                        out.species.push(sp.scientific_name.clone());
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Operation {
    /// The proposal, then every record that counts, oldest first.
    fn counted_with_proposal(&self) -> impl Iterator<Item = &Record> {
        std::iter::once(&self.proposal).chain(self.counted.iter())
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn tlp_name(rec: &Record) -> String {
    let tlp = rec.body().handling.as_ref().map_or(0, |h| h.tlp);
    pb::Tlp::try_from(tlp)
        .map(|t| t.as_str_name().trim_start_matches("TLP_").to_string())
        .unwrap_or_default()
}

fn answer_name(a: i32) -> &'static str {
    match pb::OperationAnswer::try_from(a) {
        Ok(pb::OperationAnswer::Accept) => "accept",
        Ok(pb::OperationAnswer::Decline) => "decline",
        Ok(pb::OperationAnswer::Tentative) => "tentative",
        _ => "",
    }
}

/// Timeline lines, signatures checked again.
fn timeline<'a>(records: impl Iterator<Item = (&'a Record, String)>) -> Vec<pb::TimelineEntry> {
    let records: Vec<(&Record, String)> = records.collect();
    let refs: Vec<&Record> = records.iter().map(|(r, _)| *r).collect();
    let ok = Record::signature_statuses(&refs);
    records
        .iter()
        .zip(ok)
        .map(|((r, why), ok)| pb::TimelineEntry {
            signature_ok: ok.is_ok(),
            ..entry(r, why)
        })
        .collect()
}

/// One line of the timeline.
fn entry(r: &Record, reason: &str) -> pb::TimelineEntry {
    let summary = match &r.body().payload {
        Some(P::OperationProposal(p)) => {
            format!("proposed {} to {}", p.code_name, p.participants.join(", "))
        }
        Some(P::OperationResponse(x)) => {
            let mut s = answer_name(x.answer).to_string();
            if !x.commitments.is_empty() {
                s = format!("{s}: {}", x.commitments);
            }
            s
        }
        Some(P::OperationUpdate(u)) => update_summary(u),
        _ => String::new(),
    };
    pb::TimelineEntry {
        id: r.id().to_hex(),
        at: r.body().created_at,
        author: r.body().author.clone(),
        kind: r.kind().to_string(),
        summary,
        signer: r.signer_fingerprint(),
        reason: reason.to_string(),
        signature_ok: false,
    }
}

fn update_summary(u: &pb::OperationUpdate) -> String {
    let mut parts = vec![Status::of_update(u).map_or("?", Status::name).to_string()];
    if !u.add_participants.is_empty() {
        parts.push(format!("added {}", u.add_participants.join(", ")));
    }
    if !u.seizures.is_empty() {
        parts.push(format!("{} seizures linked", u.seizures.len()));
    }
    if !u.outcome.is_empty() {
        parts.push(format!("outcome: {}", u.outcome));
    }
    parts.join("; ")
}
