//! Coordinated operations (DESIGN.md "Coordinated operations"): which
//! records belong to an operation, who takes part, which of its records
//! count, and where it stands. Pure: the records are handed in.
//!
//! - The **lead** is the proposal's author. Only the lead's updates
//!   count; an update signed by anyone else is refused.
//! - The **participants** are the proposal's, plus those the lead's
//!   updates add. A response counts only from a participant (the lead
//!   does not answer its own proposal).
//! - The operation's **audience** is the lead and every participant:
//!   records of the operation are scoped to it, and an agency the lead
//!   adds later receives the proposal and its history.

use std::collections::BTreeMap;

use wildnet_proto::v1 as pb;

use super::{Record, RecordId};

use pb::record_body::Payload as P;

/// The operation a record belongs to: a proposal is its own (its id), a
/// response or an update names it; other kinds belong to none.
pub fn operation_of(rec: &Record) -> Option<RecordId> {
    match &rec.body().payload {
        Some(P::OperationProposal(_)) => Some(rec.id()),
        Some(P::OperationResponse(r)) => r.operation.parse().ok(),
        Some(P::OperationUpdate(u)) => u.operation.parse().ok(),
        _ => None,
    }
}

/// Whether a body is an operation record (proposal, response or update).
pub fn is_operation(body: &pb::RecordBody) -> bool {
    matches!(
        body.payload,
        Some(P::OperationProposal(_) | P::OperationResponse(_) | P::OperationUpdate(_))
    )
}

/// Where an operation stands: proposed until the lead's first update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// No update yet.
    Proposed,
    /// Being planned.
    Planned,
    /// Under way.
    Active,
    /// Over, with an outcome.
    Concluded,
    /// Called off.
    Cancelled,
}

impl Status {
    /// The status an update sets.
    pub fn of_update(u: &pb::OperationUpdate) -> Option<Status> {
        Some(match pb::OperationStatus::try_from(u.status).ok()? {
            pb::OperationStatus::Unspecified => return None,
            pb::OperationStatus::Planned => Status::Planned,
            pb::OperationStatus::Active => Status::Active,
            pb::OperationStatus::Concluded => Status::Concluded,
            pb::OperationStatus::Cancelled => Status::Cancelled,
        })
    }

    /// Its name on the board and the command line.
    pub fn name(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::Planned => "planned",
            Status::Active => "active",
            Status::Concluded => "concluded",
            Status::Cancelled => "cancelled",
        }
    }

    /// Whether the operation is over (no more answers are due).
    pub fn is_over(self) -> bool {
        matches!(self, Status::Concluded | Status::Cancelled)
    }

    /// Whether the lead may move the operation from `self` to `to`:
    /// forward only (an active operation is not planned again), nothing
    /// after it is over; staying put (to add participants, seizures or an
    /// outcome) is allowed until then.
    pub fn may_move(self, to: Status) -> Result<(), String> {
        if self.is_over() {
            return Err(format!(
                "the operation is {}: it takes no more updates",
                self.name()
            ));
        }
        if to == Status::Proposed || (self == Status::Active && to == Status::Planned) {
            return Err(format!(
                "an operation that is {} cannot become {}",
                self.name(),
                to.name()
            ));
        }
        Ok(())
    }
}

/// Why a record of an operation does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCounted {
    /// An update signed by an agency other than the lead.
    UpdateNotByLead {
        /// Who signed it.
        author: String,
        /// The operation's lead.
        lead: String,
    },
    /// A response from an agency that does not take part.
    NotAParticipant {
        /// Who signed it.
        author: String,
    },
    /// The lead answering its own proposal.
    ResponseByLead,
    /// A second proposal (a proposal only belongs to itself).
    NotThisOperation,
}

impl std::fmt::Display for NotCounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotCounted::UpdateNotByLead { author, lead } => write!(
                f,
                "operation update signed by {author}, but only the lead {lead} may update the operation"
            ),
            NotCounted::NotAParticipant { author } => write!(
                f,
                "operation response from {author}, which is not a participant of the operation"
            ),
            NotCounted::ResponseByLead => f.write_str("the lead does not answer its own proposal"),
            NotCounted::NotThisOperation => f.write_str("a record of another operation"),
        }
    }
}

/// One operation: its proposal and the records of it that count, in time
/// order, and those that do not with the reason.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The proposal.
    pub proposal: Record,
    /// Responses and updates that count, oldest first.
    pub counted: Vec<Record>,
    /// Responses and updates that do not count, with why.
    pub ignored: Vec<(Record, NotCounted)>,
}

impl Operation {
    /// The operation of `proposal` from the records of it at hand (in any
    /// order; the proposal itself and duplicates are skipped). Updates are
    /// judged first, since they decide who may answer.
    pub fn assemble(proposal: Record, others: impl IntoIterator<Item = Record>) -> Operation {
        let id = proposal.id();
        let mut op = Operation {
            proposal,
            counted: Vec::new(),
            ignored: Vec::new(),
        };
        let mut seen = std::collections::HashSet::from([id]);
        let mut rest: Vec<Record> = others
            .into_iter()
            .filter(|r| operation_of(r) == Some(id) && seen.insert(r.id()))
            .collect();
        // Updates first, then time order, then id: the same set always
        // gives the same operation.
        rest.sort_by_key(|r| {
            let update = matches!(r.body().payload, Some(P::OperationUpdate(_)));
            (!update, r.body().created_at, r.id())
        });
        for r in rest {
            match op.check(&r) {
                Ok(()) => op.counted.push(r),
                Err(why) => op.ignored.push((r, why)),
            }
        }
        op.counted.sort_by_key(|r| (r.body().created_at, r.id()));
        op
    }

    /// The operation's id (its proposal's).
    pub fn id(&self) -> RecordId {
        self.proposal.id()
    }

    /// The proposal's fields.
    pub fn proposal(&self) -> &pb::OperationProposal {
        match &self.proposal.body().payload {
            Some(P::OperationProposal(p)) => p,
            _ => unreachable!("an Operation is built from a proposal only"),
        }
    }

    /// The lead agency.
    pub fn lead(&self) -> &str {
        &self.proposal.body().author
    }

    /// The updates that count, oldest first.
    pub fn updates(&self) -> impl Iterator<Item = (&Record, &pb::OperationUpdate)> {
        self.counted.iter().filter_map(|r| match &r.body().payload {
            Some(P::OperationUpdate(u)) => Some((r, u)),
            _ => None,
        })
    }

    /// The agencies the lead's updates added, in the order added.
    pub fn added(&self) -> Vec<String> {
        let named = &self.proposal().participants;
        let mut out: Vec<String> = Vec::new();
        for (_, u) in self.updates() {
            for a in &u.add_participants {
                if !named.contains(a) && !out.contains(a) && a != self.lead() {
                    out.push(a.clone());
                }
            }
        }
        out
    }

    /// Every participant: the proposal's, then those added (the lead is
    /// not one).
    pub fn participants(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .proposal()
            .participants
            .iter()
            .filter(|a| a.as_str() != self.lead())
            .cloned()
            .collect();
        out.extend(self.added());
        out
    }

    /// Who holds the operation's records: the lead and every participant,
    /// sorted.
    pub fn audience(&self) -> Vec<String> {
        let mut out = self.participants();
        out.push(self.lead().to_string());
        out.sort();
        out.dedup();
        out
    }

    /// Whether `rec` (a response or an update of this operation) counts.
    pub fn check(&self, rec: &Record) -> Result<(), NotCounted> {
        let author = rec.body().author.as_str();
        match &rec.body().payload {
            Some(P::OperationUpdate(u)) if u.operation == self.id().to_hex() => {
                if author == self.lead() {
                    Ok(())
                } else {
                    Err(NotCounted::UpdateNotByLead {
                        author: author.to_string(),
                        lead: self.lead().to_string(),
                    })
                }
            }
            Some(P::OperationResponse(r)) if r.operation == self.id().to_hex() => {
                if author == self.lead() {
                    Err(NotCounted::ResponseByLead)
                } else if self.participants().iter().any(|p| p == author) {
                    Ok(())
                } else {
                    Err(NotCounted::NotAParticipant {
                        author: author.to_string(),
                    })
                }
            }
            _ => Err(NotCounted::NotThisOperation),
        }
    }

    /// Where the operation stands: the status of the lead's latest update.
    pub fn status(&self) -> Status {
        self.updates()
            .filter_map(|(_, u)| Status::of_update(u))
            .last()
            .unwrap_or(Status::Proposed)
    }

    /// Each participant's latest response that counts.
    pub fn latest_responses(&self) -> BTreeMap<String, (&Record, &pb::OperationResponse)> {
        let mut out = BTreeMap::new();
        for r in &self.counted {
            if let Some(P::OperationResponse(x)) = &r.body().payload {
                out.insert(r.body().author.clone(), (r, x));
            }
        }
        out
    }

    /// The seizures the lead's updates linked, each once, in order.
    pub fn seizures(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, u) in self.updates() {
            for s in &u.seizures {
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
        }
        out
    }

    /// The outcome text of the latest update that gave one.
    pub fn outcome(&self) -> &str {
        self.updates()
            .map(|(_, u)| u.outcome.as_str())
            .filter(|o| !o.is_empty())
            .last()
            .unwrap_or("")
    }

    /// When answers are due: the proposal's `respond_by`, else the start
    /// of its window.
    pub fn respond_by(&self) -> i64 {
        let p = self.proposal();
        if p.respond_by > 0 {
            p.respond_by
        } else {
            p.window_start
        }
    }

    /// Participants with no answer that counts, past the due time, while
    /// the operation is not over.
    pub fn overdue(&self, now_ms: i64) -> Vec<String> {
        if self.status().is_over() || now_ms <= self.respond_by() {
            return Vec::new();
        }
        let answered = self.latest_responses();
        self.participants()
            .into_iter()
            .filter(|p| !answered.contains_key(p))
            .collect()
    }
}

#[cfg(test)]
mod tests;
