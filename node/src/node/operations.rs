//! Coordinated operations on the node: the operation of a record from what
//! is held (and what is at hand, not stored yet), the agencies its lead
//! added (they join the audience of its records: see [`crate::policy`]),
//! and the rules a draft meets before it is signed: the audience is the
//! operation's, only a participant answers, only the lead updates. The
//! rules themselves are [`crate::record::operation`]'s; the board is in
//! [`super::board`].

use std::collections::HashMap;

use wildnet_proto::v1 as pb;

use super::{Node, NodeError};
use crate::record::operation::{self, Operation, Status};
use crate::record::{Record, RecordId};

use pb::record_body::Payload as P;

/// The agencies added to operations, worked out once per operation while
/// serving or checking a batch of records; `at_hand` are records not
/// stored yet that count too (a pulled batch).
#[derive(Default)]
pub struct AddedCache {
    added: HashMap<RecordId, Vec<String>>,
    at_hand: Vec<Record>,
}

impl AddedCache {
    /// A cache that also counts `at_hand` (records not stored yet).
    pub fn with_at_hand(at_hand: Vec<Record>) -> AddedCache {
        AddedCache {
            added: HashMap::new(),
            at_hand,
        }
    }

    /// The agencies the lead of `rec`'s operation added (none for other
    /// kinds, or when the proposal is not known: fail closed).
    pub fn of(&mut self, node: &Node, rec: &Record) -> &[String] {
        let Some(op) = operation::operation_of(rec) else {
            return &[];
        };
        let at_hand = &self.at_hand;
        self.added.entry(op).or_insert_with(|| {
            let mut extra: Vec<&Record> = at_hand.iter().collect();
            extra.push(rec);
            node.added_to(&op, &extra)
        })
    }
}

impl Node {
    /// The operation whose proposal is `op`, from the records held and
    /// `extra` (records at hand not stored yet); `None` when neither holds
    /// the proposal.
    pub fn operation(
        &self,
        op: &RecordId,
        extra: &[&Record],
    ) -> Result<Option<Operation>, NodeError> {
        let mut records: Vec<Record> = self
            .store
            .operation_records(&op.to_hex())?
            .into_iter()
            .map(|s| s.record)
            .collect();
        records.extend(
            extra
                .iter()
                .filter(|r| operation::operation_of(r) == Some(*op))
                .map(|r| (*r).clone()),
        );
        let Some(i) = records.iter().position(|r| {
            r.id() == *op && matches!(r.body().payload, Some(P::OperationProposal(_)))
        }) else {
            return Ok(None);
        };
        let proposal = records.swap_remove(i);
        Ok(Some(Operation::assemble(proposal, records)))
    }

    /// The agencies the lead of operation `op` added, from what is held
    /// and `extra`; none when that cannot be read (fail closed).
    pub fn added_to(&self, op: &RecordId, extra: &[&Record]) -> Vec<String> {
        match self.operation(op, extra) {
            Ok(Some(o)) => o.added(),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::error!(operation = %op, cause = %e, "operation unreadable: nobody added");
                Vec::new()
            }
        }
    }

    /// Whether `rec` counts in its operation, judged with the records held
    /// and `extra`: `Err` with the reason when it does not (an update not
    /// by the lead, a response from outside). A record whose proposal is
    /// not known here yet cannot be judged and passes: the board judges it
    /// once the proposal arrives.
    pub fn check_in_operation(&self, rec: &Record, extra: &[&Record]) -> Result<(), String> {
        let Some(op) = operation::operation_of(rec) else {
            return Ok(());
        };
        if op == rec.id() {
            return Ok(());
        }
        match self.operation(&op, extra) {
            Ok(Some(o)) => o.check(rec).map_err(|e| e.to_string()),
            Ok(None) => Ok(()),
            Err(e) => Err(format!("its operation cannot be read here: {e}")),
        }
    }

    /// The agencies `stored` (records just stored) added this node to, as
    /// the reason to pull every peer again for the operations' history.
    pub(super) fn added_me(&self, stored: &[&Record]) -> Option<String> {
        let me = self.agency.as_str();
        let mut ops = Vec::new();
        for r in stored {
            if let Some(P::OperationUpdate(u)) = &r.body().payload
                && u.add_participants.iter().any(|a| a == me)
                && self.check_in_operation(r, stored).is_ok()
            {
                ops.push(format!(
                    "{} by {}",
                    &u.operation[..12.min(u.operation.len())],
                    r.body().author
                ));
            }
        }
        (!ops.is_empty()).then(|| {
            format!(
                "added to operation {}: pulling its proposal and history",
                ops.join(", ")
            )
        })
    }

    /// Fits an operation draft to its operation before it is signed: the
    /// audience is the lead and every participant (whatever the draft
    /// said; the TLP defaults to the proposal's), and the rules hold — a
    /// proposal names agencies of the manifest; only a participant answers,
    /// only the lead updates, forward only; seizures linked are held here.
    pub(super) fn fit_operation_draft(
        &self,
        draft: &mut pb::RecordBody,
        tlp_unset: bool,
    ) -> Result<(), NodeError> {
        if !operation::is_operation(draft) {
            return Ok(());
        }
        if !draft.supersedes.is_empty() {
            return Err(NodeError::Invalid(
                "operation records have no new versions: the lead amends an operation with `wildnet op update`".into(),
            ));
        }
        let me = self.agency.to_string();
        let (audience, tlp) = match &mut draft.payload {
            Some(P::OperationProposal(p)) => (self.proposal_audience(&me, p)?, 0),
            Some(P::OperationResponse(r)) => {
                let op = self.held_operation(&r.operation)?;
                if op.lead() == me {
                    return Err(NodeError::Refused(
                        "the lead does not answer its own proposal: use `wildnet op update`".into(),
                    ));
                }
                if !op.participants().contains(&me) {
                    return Err(NodeError::Refused(format!(
                        "{me} is not a participant of operation {}: only {} may answer",
                        op.proposal().code_name,
                        op.participants().join(", ")
                    )));
                }
                if op.status().is_over() {
                    return Err(NodeError::Refused(format!(
                        "operation {} is {}: it takes no more answers",
                        op.proposal().code_name,
                        op.status().name()
                    )));
                }
                (op.audience(), proposal_tlp(&op))
            }
            Some(P::OperationUpdate(u)) => {
                let op = self.held_operation(&u.operation)?;
                (self.update_audience(&me, &op, u)?, proposal_tlp(&op))
            }
            _ => unreachable!("is_operation"),
        };
        let h = draft.handling.get_or_insert_with(Default::default);
        h.scope = pb::Scope::Agencies as i32;
        h.agencies = audience;
        h.groups.clear();
        if tlp_unset && tlp != 0 {
            h.tlp = tlp;
        }
        Ok(())
    }

    /// The operation `id` (full hex) names, which must be held here.
    fn held_operation(&self, id: &str) -> Result<Operation, NodeError> {
        let op: RecordId = id.parse().map_err(|_| {
            NodeError::Invalid(format!(
                "operation {id:?} is not a record id (64 hex characters)"
            ))
        })?;
        self.operation(&op, &[])?.ok_or_else(|| {
            NodeError::Invalid(format!(
                "no operation {} here: this node does not hold its proposal (see `wildnet op list`)",
                op.short()
            ))
        })
    }

    /// A proposal's participants are active agencies of the manifest other
    /// than the lead, and its tasks go to the lead or a participant.
    fn proposal_audience(
        &self,
        me: &str,
        p: &pb::OperationProposal,
    ) -> Result<Vec<String>, NodeError> {
        let mut audience = vec![me.to_string()];
        for a in &p.participants {
            if a == me {
                return Err(NodeError::Invalid(format!(
                    "{me} leads the operation: list the other agencies as participants"
                )));
            }
            self.active_agency(a)?;
            audience.push(a.clone());
        }
        for t in &p.tasks {
            if !audience.contains(&t.agency) {
                return Err(NodeError::Invalid(format!(
                    "task for {}: give tasks to the lead or a participant ({})",
                    t.agency,
                    audience.join(", ")
                )));
            }
        }
        audience.sort();
        audience.dedup();
        Ok(audience)
    }

    /// Only the lead updates, forward only; added agencies are active and
    /// new to the operation; linked seizures are held here.
    fn update_audience(
        &self,
        me: &str,
        op: &Operation,
        u: &pb::OperationUpdate,
    ) -> Result<Vec<String>, NodeError> {
        if op.lead() != me {
            return Err(NodeError::Refused(format!(
                "only the lead {} may update operation {}; {me} takes part and answers with `wildnet op respond`",
                op.lead(),
                op.proposal().code_name
            )));
        }
        let to = Status::of_update(u).ok_or_else(|| {
            NodeError::Invalid(
                "an update needs a status: planned, active, concluded or cancelled".into(),
            )
        })?;
        op.status().may_move(to).map_err(NodeError::Refused)?;
        let mut audience = op.audience();
        for a in &u.add_participants {
            if audience.contains(a) {
                return Err(NodeError::Invalid(format!(
                    "{a} already takes part in operation {}",
                    op.proposal().code_name
                )));
            }
            self.active_agency(a)?;
            audience.push(a.clone());
        }
        for s in &u.seizures {
            let id: RecordId = s
                .parse()
                .map_err(|_| NodeError::Invalid(format!("seizure {s:?} is not a record id")))?;
            match self.store.get(&id)? {
                Some(st) if matches!(st.record.body().payload, Some(P::Seizure(_))) => {}
                Some(st) => {
                    return Err(NodeError::Invalid(format!(
                        "{} is a {}, not a seizure",
                        id.short(),
                        st.record.kind()
                    )));
                }
                None => {
                    return Err(NodeError::Invalid(format!(
                        "no seizure {} here: link seizures this node holds",
                        id.short()
                    )));
                }
            }
        }
        audience.sort();
        Ok(audience)
    }

    /// `a` is an agency of the manifest in force, not revoked.
    fn active_agency(&self, a: &str) -> Result<(), NodeError> {
        let fed = self.federation.as_ref().ok_or(NodeError::NotFederated)?;
        let m = fed.current();
        match m.agency(a) {
            Some(x) if x.revoked_at == 0 || x.revoked_at > crate::now_ms() => Ok(()),
            Some(_) => Err(NodeError::Refused(format!(
                "{a} is revoked in the manifest in force"
            ))),
            None => Err(NodeError::Invalid(format!(
                "{a} is not an agency of the federation (manifest version {})",
                m.version()
            ))),
        }
    }

    /// The handling of the retraction of `rec`: its own, and for an
    /// operation record the operation's whole audience (so an agency added
    /// later hears of it too).
    pub(super) fn retraction_handling(&self, rec: &Record) -> Option<pb::Handling> {
        let mut h = rec.body().handling.clone();
        if let Some(op) = operation::operation_of(rec)
            && let Ok(Some(o)) = self.operation(&op, &[rec])
            && let Some(h) = &mut h
            && h.scope == pb::Scope::Agencies as i32
        {
            h.agencies = o.audience();
        }
        h
    }
}

fn proposal_tlp(op: &Operation) -> i32 {
    op.proposal.body().handling.as_ref().map_or(0, |h| h.tlp)
}
