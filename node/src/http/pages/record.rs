//! `/records/{id}`: one record — handling badges, the signature checked
//! again now, its versions, who holds it (receipts), what it correlates
//! with, and the signed body.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};

use super::{Viewer, badges, off_runtime, record_link, shell, summary, when};
use crate::http::Web;
use crate::node::{Links, NodeError};
use crate::storage::Stored;

/// What the page shows, read off the runtime.
struct Shown {
    record: Stored,
    signature: Result<(), String>,
    history: Vec<Stored>,
    holders: Vec<(String, i64)>,
    links: Vec<Links>,
}

fn read(web: &Web, id: &str) -> Result<Shown, NodeError> {
    let node = &web.node;
    let (record, history) = node.get(id)?;
    let signature = record.record.signature_status().map_err(|e| e.to_string());
    let holders = node.holders(&record.record.id())?;
    let (_, links) = node.correlate_record(&record.record.id().to_hex(), false)?;
    Ok(Shown {
        record,
        signature,
        history,
        holders,
        links,
    })
}

pub(super) async fn page(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let shown = match off_runtime(&web, move |w| read(w, &id)).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let hex = shown.record.record.id().to_hex();
    viewer.audit(&web, format!("record {hex}"));
    let title = format!(
        "{} {}",
        shown.record.record.kind(),
        hex.get(..12).unwrap_or(&hex)
    );
    shell(&web, &title, content(&shown))
}

fn content(s: &Shown) -> Markup {
    let r = &s.record.record;
    let b = r.body();
    let body_json = serde_json::to_string_pretty(b).unwrap_or_default();
    html! {
        p { (badges(b.handling.as_ref())) }
        table {
            tr { th { "Id" } td { code { (r.id().to_hex()) } } }
            tr { th { "About" } td { (summary(b)) } }
            tr { th { "Author" } td { (b.author) } }
            tr { th { "Created" } td { (when(b.created_at)) } }
            tr { th { "Stored here" } td { (when(s.record.stored_at)) " (feed position " (s.record.seq) ")" } }
            tr { th { "Received from" } td { @if s.record.received_from.is_empty() { "published here" } @else { (s.record.received_from) } } }
            tr {
                th { "Signature" }
                td {
                    @match &s.signature {
                        Ok(()) => { span.ok { "valid" } " — Ed25519, key " code { (r.signer_fingerprint()) } ", checked now" }
                        Err(e) => { span.bad { "INVALID: " (e) } }
                    }
                }
            }
            @if let Some(next) = &s.record.superseded_by {
                tr { th { "Superseded by" } td { (record_link(&next.to_hex())) } }
            }
            @if !b.tags.is_empty() { tr { th { "Tags" } td { (b.tags.join(", ")) } } }
        }
        h2 { "Versions" }
        @if s.history.len() <= 1 {
            p.empty { "This is the only version." }
        } @else {
            table {
                tr { th { "Version" } th { "Created" } th { "About" } }
                @for v in &s.history {
                    tr {
                        td { (record_link(&v.record.id().to_hex())) @if v.record.id() == r.id() { " (this one)" } }
                        td { (when(v.record.body().created_at)) } td { (summary(v.record.body())) }
                    }
                }
            }
        }
        h2 { "Held by" }
        @if s.holders.is_empty() {
            p.empty { "No delivery receipt (receipts come back to the author's node only)." }
        } @else {
            table {
                tr { th { "Agency" } th { "Stored at (signed receipt)" } }
                @for (agency, at) in &s.holders { tr { td { (agency) } td { (when(*at)) } } }
            }
        }
        h2 { "Correlations" }
        (correlations(&s.links))
        h2 { "Signed body" }
        pre { (body_json) }
    }
}

fn correlations(links: &[Links]) -> Markup {
    html! {
        @if links.is_empty() {
            p.empty { "This record has no selectors." }
        } @else {
            table {
                tr { th { "Selector" } th { "Records holding it" } th { "Other records" } }
                @for l in links {
                    tr {
                        td { code { (l.key) } }
                        td { (l.holders) @if l.more { "+" } }
                        td {
                            @if let Some(s) = &l.suppressed {
                                span.empty { "left out: " (format!("{s:?}")) }
                            }
                            @for o in &l.records {
                                (record_link(&o.record.id().to_hex())) " " (o.record.body().author) " · "
                            }
                        }
                    }
                }
            }
        }
    }
}
