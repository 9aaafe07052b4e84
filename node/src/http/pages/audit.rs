//! `/audit`: the audit log, newest first, with the hash chain verified
//! again on each view.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;

use super::{off_runtime, shell, when};
use crate::http::Web;
use crate::node::NodeError;

/// Entries on one page.
const PAGE: u64 = 200;

/// `?before=N`: the page of entries before number N.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(in crate::http) struct Page {
    before: Option<u64>,
}

pub(super) async fn page(State(web): State<Arc<Web>>, Query(p): Query<Page>) -> Response {
    let read = off_runtime(&web, move |w| {
        let store = w.node.store();
        let len = store.audit_len()?;
        let end = p.before.unwrap_or(len + 1).clamp(1, len + 1);
        let start = end.saturating_sub(PAGE).max(1);
        let mut entries = store.audit_list(start, end.saturating_sub(start) as usize)?;
        entries.reverse();
        Ok::<_, NodeError>((store.audit_verify()?, entries, start))
    })
    .await;
    let (verdict, entries, start) = match read {
        Ok(r) => r,
        Err(page) => return page,
    };
    let content = html! {
        @match &verdict.broken {
            None => p.ok { "Hash chain verified: " (verdict.entries) " entries, none altered, removed or moved." },
            Some((seq, why)) => p.bad { "Hash chain BROKEN at entry " (seq) ": " (why) },
        }
        table {
            tr { th { "#" } th { "When" } th { "Who" } th { "What" } th { "Detail" } }
            @for e in &entries {
                tr { td { (e.seq) } td { (when(e.at)) } td { code { (e.actor) } } td { (e.action) } td { (e.detail) } }
            }
        }
        @if start > 1 { p { a href=(format!("/audit?before={start}")) { "Older entries →" } } }
    };
    shell(&web, "Audit log", content)
}
