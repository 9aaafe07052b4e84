//! Printing operations: the list, and the board of one (header,
//! participants × latest answer, tasks, targets, timeline, outcome,
//! overdue answers), as tables or one JSON document.

use std::process::ExitCode;

use serde_json::{Value, json};
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, output, time};

fn short(id: &str) -> String {
    id.get(..12).unwrap_or(id).to_string()
}

fn when(ms: i64) -> String {
    if ms == 0 {
        String::new()
    } else {
        time::short(ms)
    }
}

fn day(ms: i64) -> String {
    when(ms).get(..10).unwrap_or("").to_string()
}

/// `op list`.
pub(super) async fn list(
    client: &mut AgencyClient<Channel>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = client
        .list_operations(pb::ListOperationsRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => {
            let ops: Vec<Value> = r
                .operations
                .iter()
                .map(|o| {
                    json!({
                        "id": o.id, "code_name": o.code_name, "lead": o.lead, "status": o.status,
                        "window_start": time::rfc3339(o.window_start),
                        "window_end": time::rfc3339(o.window_end),
                        "participants": o.participants, "answered": o.answered,
                        "overdue": o.overdue, "role": o.role,
                    })
                })
                .collect();
            output::json(&Value::Array(ops))?;
        }
        Format::Table => {
            let rows = r
                .operations
                .iter()
                .map(|o| {
                    vec![
                        short(&o.id),
                        o.code_name.clone(),
                        o.lead.clone(),
                        o.role.clone(),
                        o.status.clone(),
                        format!("{} – {}", day(o.window_start), day(o.window_end)),
                        format!("{}/{}", o.answered, o.participants),
                        o.overdue.to_string(),
                    ]
                })
                .collect();
            output::table(
                &[
                    "id",
                    "code name",
                    "lead",
                    "you",
                    "status",
                    "window",
                    "answered",
                    "overdue",
                ],
                rows,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn entry_view(e: &pb::TimelineEntry) -> Value {
    json!({
        "id": e.id, "at": time::rfc3339(e.at), "author": e.author, "kind": e.kind,
        "summary": e.summary, "signer": e.signer, "signature_ok": e.signature_ok,
        "reason": e.reason,
    })
}

/// The board as one JSON document.
pub(super) fn view(b: &pb::OperationBoard) -> Value {
    let participants: Vec<Value> = b
        .participants
        .iter()
        .map(|p| {
            json!({
                "agency": p.agency, "answer": p.answer, "commitments": p.commitments,
                "contact": p.contact,
                "answered_at": (p.answered_at != 0).then(|| time::rfc3339(p.answered_at)),
                "response": p.response, "added_later": p.added_later, "overdue": p.overdue,
                "proposal_received_at":
                    (p.proposal_received_at != 0).then(|| time::rfc3339(p.proposal_received_at)),
                "answer_received_by": p.answer_received_by,
            })
        })
        .collect();
    let targets: Vec<Value> = b
        .targets
        .iter()
        .map(|t| {
            json!({
                "target": t.target, "kind": t.kind, "held": t.held,
                "record_kind": t.record_kind, "record_author": t.record_author,
                "correlations": t.correlations, "suppressed": t.suppressed,
                "held_elsewhere": t.held_elsewhere.iter().map(crate::cmd::deconflict::view).collect::<Vec<_>>(),
            })
        })
        .collect();
    let o = b.outcome.clone().unwrap_or_default();
    json!({
        "id": b.id, "code_name": b.code_name, "objective": b.objective, "lead": b.lead,
        "role": b.role, "status": b.status, "tlp": b.tlp,
        "window_start": time::rfc3339(b.window_start), "window_end": time::rfc3339(b.window_end),
        "respond_by": time::rfc3339(b.respond_by),
        "participants": participants,
        "tasks": b.tasks.iter().map(|t| json!({"agency": t.agency, "task": t.description})).collect::<Vec<_>>(),
        "targets": targets,
        "timeline": b.timeline.iter().map(entry_view).collect::<Vec<_>>(),
        "ignored": b.ignored.iter().map(entry_view).collect::<Vec<_>>(),
        "outcome": {
            "text": o.text, "seizures": o.seizures, "seizures_held": o.seizures_held,
            "items": o.items, "weight_grams": o.weight_grams, "species": o.species,
        },
        "overdue": b.overdue,
        "deconfliction": b.deconfliction.iter().map(crate::cmd::deconflict::view).collect::<Vec<_>>(),
    })
}

/// `op show`.
pub(super) fn show(b: &pb::OperationBoard, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return output::json(&view(b));
    }
    output::line(&format!(
        "{} ({}) — lead {}, you are the {} — {} — TLP:{}",
        b.code_name,
        short(&b.id),
        b.lead,
        b.role,
        b.status.to_uppercase(),
        b.tlp
    ))?;
    output::line(&format!(
        "window {} – {}; answers due {}",
        when(b.window_start),
        when(b.window_end),
        when(b.respond_by)
    ))?;
    output::line(&format!("objective: {}", b.objective))?;
    participants(b)?;
    if !b.tasks.is_empty() {
        let rows = b
            .tasks
            .iter()
            .map(|t| vec![t.agency.clone(), t.description.clone()])
            .collect();
        output::table(&["agency", "task"], rows)?;
    }
    targets(b)?;
    timeline(b)?;
    outcome(b)?;
    if !b.overdue.is_empty() {
        output::line(&format!("OVERDUE answers: {}", b.overdue.join(", ")))?;
    }
    Ok(())
}

fn participants(b: &pb::OperationBoard) -> anyhow::Result<()> {
    let rows = b
        .participants
        .iter()
        .map(|p| {
            let mut receipt = if p.proposal_received_at != 0 {
                format!("has the proposal ({})", when(p.proposal_received_at))
            } else if b.role == "lead" {
                "no receipt yet".to_string()
            } else {
                String::new()
            };
            if !p.answer_received_by.is_empty() {
                receipt = format!("answer stored by {}", p.answer_received_by.join(", "));
            }
            let mut agency = p.agency.clone();
            if p.added_later {
                agency.push_str(" (added)");
            }
            let answer = match (p.answer.as_str(), p.overdue) {
                ("", true) => "OVERDUE".to_string(),
                ("", false) => "awaited".to_string(),
                (a, _) => a.to_string(),
            };
            vec![
                agency,
                answer,
                p.commitments.clone(),
                p.contact.clone(),
                when(p.answered_at),
                receipt,
            ]
        })
        .collect();
    output::table(
        &[
            "participant",
            "answer",
            "commitments",
            "contact",
            "answered",
            "delivery",
        ],
        rows,
    )
}

/// The targets: correlations here, and whether another agency holds them.
pub(super) fn targets(b: &pb::OperationBoard) -> anyhow::Result<()> {
    if b.targets.is_empty() {
        return Ok(());
    }
    let rows = b
        .targets
        .iter()
        .map(|t| {
            let what = if t.kind == "record" && t.held {
                format!("{} by {}", t.record_kind, t.record_author)
            } else if t.kind == "record" {
                "record not held here".to_string()
            } else {
                t.suppressed.clone()
            };
            let elsewhere = if t.held_elsewhere.is_empty() {
                "no hit known".to_string()
            } else {
                let who: Vec<String> = t
                    .held_elsewhere
                    .iter()
                    .map(|h| format!("{} ({})", h.peer, h.contact))
                    .collect();
                format!("another agency holds this target: {}", who.join("; "))
            };
            vec![
                t.target.clone(),
                what,
                t.correlations.to_string(),
                elsewhere,
            ]
        })
        .collect();
    output::table(&["target", "here", "correlations", "deconfliction"], rows)
}

fn timeline(b: &pb::OperationBoard) -> anyhow::Result<()> {
    let mut rows: Vec<Vec<String>> = b
        .timeline
        .iter()
        .map(|e| {
            let sig = if e.signature_ok {
                "✓"
            } else {
                "BAD SIGNATURE"
            };
            vec![
                when(e.at),
                e.author.clone(),
                e.kind.replace("operation_", ""),
                e.summary.clone(),
                format!("{sig} {}", e.signer),
            ]
        })
        .collect();
    rows.extend(b.ignored.iter().map(|e| {
        vec![
            when(e.at),
            e.author.clone(),
            e.kind.replace("operation_", ""),
            format!("IGNORED: {}", e.reason),
            e.signer.clone(),
        ]
    }));
    output::table(&["signed at", "by", "what", "says", "signature"], rows)
}

fn outcome(b: &pb::OperationBoard) -> anyhow::Result<()> {
    let Some(o) = &b.outcome else {
        return Ok(());
    };
    if o.text.is_empty() && o.seizures.is_empty() {
        return Ok(());
    }
    output::line(&format!(
        "outcome: {} — {} seizures linked ({} held here): {} items, {:.1} kg, species: {}",
        if o.text.is_empty() { "-" } else { &o.text },
        o.seizures.len(),
        o.seizures_held,
        o.items,
        o.weight_grams as f64 / 1000.0,
        if o.species.is_empty() {
            "-".to_string()
        } else {
            o.species.join(", ")
        }
    ))
}
