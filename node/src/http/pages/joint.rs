//! `/alerts`, `/operations`, `/operations/{id}`: the joint work — alerts
//! raised by shared values and watched ones, and the operation boards.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::html;
use wildnet_proto::v1 as pb;

use super::{Viewer, off_runtime, record_link, shell, when};
use crate::http::Web;

/// `?all=1` shows acknowledged alerts too.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(in crate::http) struct AlertFilter {
    all: Option<String>,
}

/// Newest alerts shown on one page.
const ALERTS_SHOWN: usize = 500;

pub(super) async fn alerts(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Query(f): Query<AlertFilter>,
) -> Response {
    let unacked = f.all.is_none();
    let read = off_runtime(&web, move |w| {
        Ok(w.node.store().alerts_newest(unacked, ALERTS_SHOWN)?)
    });
    let list = match read.await {
        Ok(l) => l,
        Err(page) => return page,
    };
    viewer.audit(&web, format!("alerts ({} shown)", list.len()));
    let content = html! {
        p {
            @if unacked { "Not acknowledged yet, newest first. " a href="/alerts?all=1" { "Show all" } }
            @else { "All alerts, newest first. " a href="/alerts" { "Only those not acknowledged" } }
        }
        @if list.is_empty() {
            p.empty { "No alert." }
        } @else {
            table {
                tr { th { "#" } th { "Raised" } th { "Record" } th { "Why" } th { "Shared value" } th { "Matches" } th { "Acknowledged" } }
                @for a in &list { (alert_row(a)) }
            }
        }
    };
    shell(&web, "Alerts", content)
}

fn alert_row(a: &pb::Alert) -> maud::Markup {
    html! {
        tr {
            td { (a.id) }
            td { (when(a.raised_at)) }
            td { (record_link(&a.record)) " " (a.kind) " by " (a.author) }
            td { (a.reason) @if !a.watch_note.is_empty() { ": " (a.watch_note) } }
            td { code { (a.selector) } }
            td {
                @for m in &a.matches { (record_link(&m.id)) " " (m.kind) " by " (m.author) " · " }
            }
            td { @if a.acked { (when(a.acked_at)) " by " (a.acked_by) @if !a.ack_note.is_empty() { ": " (a.ack_note) } } }
        }
    }
}

pub(super) async fn operations(State(web): State<Arc<Web>>, viewer: Viewer) -> Response {
    let list = match off_runtime(&web, |w| w.node.operations()).await {
        Ok(l) => l,
        Err(page) => return page,
    };
    viewer.audit(&web, format!("operations ({} shown)", list.len()));
    let content = html! {
        @if list.is_empty() {
            p.empty { "No operation this agency leads or takes part in." }
        } @else {
            table {
                tr { th { "Operation" } th { "Lead" } th { "Our part" } th { "Status" } th { "Window" } th { "Answered" } th { "Overdue" } }
                @for o in &list {
                    tr {
                        td { a href=(format!("/operations/{}", o.id)) { (o.code_name) } }
                        td { (o.lead) } td { (o.role) } td { (o.status) }
                        td { (when(o.window_start)) " – " (when(o.window_end)) }
                        td { (o.answered) " / " (o.participants) }
                        td { @if o.overdue > 0 { span.bad { (o.overdue) } } @else { "0" } }
                    }
                }
            }
        }
    };
    shell(&web, "Operations", content)
}

pub(super) async fn board(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let b = match off_runtime(&web, move |w| w.node.board(&id)).await {
        Ok(b) => b,
        Err(page) => return page,
    };
    viewer.audit(&web, format!("operation {}", b.id));
    let title = format!("Operation {}", b.code_name);
    shell(&web, &title, board_content(&b))
}

fn board_content(b: &pb::OperationBoard) -> maud::Markup {
    html! {
        table {
            tr { th { "Objective" } td { (b.objective) } }
            tr { th { "Lead" } td { (b.lead) " (our part: " (b.role) ")" } }
            tr { th { "Status" } td { (b.status) } }
            tr { th { "Window" } td { (when(b.window_start)) " – " (when(b.window_end)) } }
            tr { th { "Answers due" } td { (when(b.respond_by)) } }
            tr { th { "TLP" } td { span class=(format!("badge tlp-{}", b.tlp)) { "TLP:" (b.tlp) } } }
            tr { th { "Proposal" } td { (record_link(&b.id)) } }
        }
        h2 { "Participants" }
        table {
            tr { th { "Agency" } th { "Answer" } th { "Commitments" } th { "Contact" } th { "Answered" } }
            @for p in &b.participants {
                tr {
                    td { (p.agency) @if p.added_later { " (added later)" } }
                    td { @if p.answer.is_empty() { @if b.overdue.contains(&p.agency) { span.bad { "overdue" } } @else { span.empty { "waiting" } } } @else { (p.answer) } }
                    td { (p.commitments) } td { (p.contact) } td { (when(p.answered_at)) }
                }
            }
        }
        h2 { "Tasks" }
        @if b.tasks.is_empty() { p.empty { "No task." } } @else {
            table {
                tr { th { "Agency" } th { "Task" } }
                @for t in &b.tasks { tr { td { (t.agency) } td { (t.description) } } }
            }
        }
        h2 { "Targets" }
        @if b.targets.is_empty() { p.empty { "No target." } } @else {
            table {
                tr { th { "Target" } th { "Held here" } th { "Correlations" } }
                @for t in &b.targets {
                    tr {
                        td { code { (t.target) } " " (t.kind) }
                        td { @if t.held { (t.record_kind) " by " (t.record_author) } @else { "no" } }
                        td { (t.correlations) @if !t.suppressed.is_empty() { " (" (t.suppressed) ")" } }
                    }
                }
            }
        }
        h2 { "Timeline" }
        table {
            tr { th { "When" } th { "Record" } th { "Author" } th { "Kind" } th { "What" } th { "Signature" } }
            @for e in &b.timeline {
                tr {
                    td { (when(e.at)) } td { (record_link(&e.id)) } td { (e.author) } td { (e.kind) } td { (e.summary) }
                    td { @if e.signature_ok { span.ok { "valid" } } @else { span.bad { "invalid" } } }
                }
            }
        }
        @if let Some(o) = b.outcome.as_ref().filter(|o| !o.text.is_empty() || !o.seizures.is_empty()) {
            h2 { "Outcome" }
            p { (o.text) }
            p { (o.seizures_held) " of " (o.seizures.len()) " seizures held here; " (o.items) " items, " (o.weight_grams) " g; species: " (o.species.join(", ")) }
        }
    }
}
