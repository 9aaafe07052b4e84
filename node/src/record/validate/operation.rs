//! The rules of operation records' own fields (a proposal's, an answer's,
//! an update's). Who may answer or update is judged against the proposal
//! in `record::operation`, not here.

use wildnet_proto::v1 as pb;

use super::{AgencyId, MAX_ITEMS, V, err, items, record_id, selectors, short, text};

pub(super) fn response(r: &pb::OperationResponse) -> V {
    record_id("operation_response.operation", &r.operation)?;
    if r.answer == 0 || pb::OperationAnswer::try_from(r.answer).is_err() {
        return Err(err(
            "operation_response.answer",
            "must be accept, decline or tentative",
        ));
    }
    short("operation_response.contact", &r.contact, false)?;
    text("operation_response.commitments", &r.commitments)
}

pub(super) fn update(u: &pb::OperationUpdate) -> V {
    record_id("operation_update.operation", &u.operation)?;
    if u.status == 0 || pb::OperationStatus::try_from(u.status).is_err() {
        return Err(err(
            "operation_update.status",
            "must be planned, active, concluded or cancelled",
        ));
    }
    text("operation_update.outcome", &u.outcome)?;
    items("operation_update.seizures", &u.seizures, MAX_ITEMS)?;
    for (i, s) in u.seizures.iter().enumerate() {
        record_id(&format!("operation_update.seizures[{i}]"), s)?;
    }
    agencies("operation_update.add_participants", &u.add_participants)
}

pub(super) fn proposal(p: &pb::OperationProposal) -> V {
    short("operation_proposal.code_name", &p.code_name, true)?;
    text("operation_proposal.objective", &p.objective)?;
    if p.window_end != 0 && p.window_end < p.window_start {
        return Err(err(
            "operation_proposal.window_end",
            "must not be before window_start",
        ));
    }
    if p.participants.is_empty() {
        return Err(err(
            "operation_proposal.participants",
            "needs at least one agency",
        ));
    }
    agencies("operation_proposal.participants", &p.participants)?;
    if p.respond_by < 0 {
        return Err(err(
            "operation_proposal.respond_by",
            "must be a time (unix ms), or 0 for the window's start",
        ));
    }
    items(
        "operation_proposal.target_records",
        &p.target_records,
        MAX_ITEMS,
    )?;
    for (i, r) in p.target_records.iter().enumerate() {
        record_id(&format!("operation_proposal.target_records[{i}]"), r)?;
    }
    selectors("operation_proposal.target_selectors", &p.target_selectors)?;
    items("operation_proposal.tasks", &p.tasks, MAX_ITEMS)?;
    for (i, t) in p.tasks.iter().enumerate() {
        t.agency.parse::<AgencyId>().map_err(|e| {
            err(
                format!("operation_proposal.tasks[{i}].agency"),
                e.to_string(),
            )
        })?;
        text(
            &format!("operation_proposal.tasks[{i}].description"),
            &t.description,
        )?;
    }
    Ok(())
}

/// A list of agency ids, none twice.
pub(super) fn agencies(field: &str, list: &[String]) -> V {
    items(field, list, MAX_ITEMS)?;
    for (i, a) in list.iter().enumerate() {
        a.parse::<AgencyId>()
            .map_err(|e| err(format!("{field}[{i}]"), e.to_string()))?;
        if list[..i].contains(a) {
            return Err(err(format!("{field}[{i}]"), format!("{a} is named twice")));
        }
    }
    Ok(())
}
