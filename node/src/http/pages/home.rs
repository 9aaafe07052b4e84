//! `/`: the node at a glance — agency, manifest, records, peers with
//! their state and lag, and the plots (records per day by kind, listings
//! by species and country, peer lag over the last hour).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use wildnet_proto::v1 as pb;

use super::{error, shell, when};
use crate::http::{Web, lag, svg};
use crate::node::{Node, NodeError};
use crate::record::terms::Field;

/// Days the per-day plot covers.
const DAYS: i64 = 30;
/// Records read for the plots at most (the newest); the caption says so
/// when there were more.
const PLOT_RECORDS: usize = 20_000;

/// The figures of the plots, read from the newest records.
struct Plots {
    days: Vec<String>,
    per_kind: Vec<(String, Vec<u64>)>,
    species: Vec<(String, u64)>,
    countries: Vec<(String, u64)>,
    capped: bool,
}

fn top(m: BTreeMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

fn plots(node: &Node, now: i64) -> Result<Plots, NodeError> {
    let day = 86_400_000;
    let first = (now / day - (DAYS - 1)) * day;
    let mut req = pb::QueryRequest {
        since: first,
        limit: 1000,
        ..Default::default()
    };
    let mut per_kind: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let (mut species, mut countries) = (BTreeMap::new(), BTreeMap::new());
    let (mut seen, mut capped) = (0, false);
    loop {
        let page = node.query(&req)?;
        for s in &page.records {
            let b = s.record.body();
            let d = ((b.created_at - first) / day).clamp(0, DAYS - 1) as usize;
            per_kind
                .entry(s.record.kind().to_string())
                .or_insert_with(|| vec![0; DAYS as usize])[d] += 1;
            if let Some(wildnet_proto::v1::record_body::Payload::Listing(l)) = &b.payload {
                if let Some(sp) = l.species.as_ref().filter(|s| !s.scientific_name.is_empty()) {
                    *species.entry(sp.scientific_name.clone()).or_insert(0) += 1;
                }
                if !l.country.is_empty() {
                    *countries.entry(l.country.clone()).or_insert(0) += 1;
                }
            }
        }
        seen += page.records.len();
        match page.next {
            Some(t) if seen < PLOT_RECORDS => req.page_token = t,
            Some(_) => {
                capped = true;
                break;
            }
            None => break,
        }
    }
    let days = (0..DAYS)
        .map(|i| {
            chrono::DateTime::from_timestamp_millis(first + i * day)
                .map(|t| t.format("%m-%d").to_string())
                .unwrap_or_default()
        })
        .collect();
    Ok(Plots {
        days,
        per_kind: per_kind.into_iter().collect(),
        species: top(species, 10),
        countries: top(countries, 10),
        capped,
    })
}

pub(super) async fn page(State(web): State<Arc<Web>>) -> Response {
    let w = web.clone();
    let now = crate::now_ms();
    let read = tokio::task::spawn_blocking(move || {
        let counts = w
            .node
            .store()
            .counts(Field::Kind)
            .map_err(NodeError::from)?;
        Ok::<_, NodeError>((counts, plots(&w.node, now)?))
    })
    .await;
    let (counts, plots) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return error(&web, e),
        Err(e) => return error(&web, NodeError::Internal(e.to_string())),
    };
    let node = &web.node;
    let store = node.store();
    let peers = node
        .federation()
        .map(|f| f.peer_states())
        .unwrap_or_default();
    let lag = web.lag.snapshot().into_iter().collect::<Vec<_>>();
    let content = html! {
        table {
            tr { th { "Agency" } td { (node.agency()) " — " (node.name()) } }
            tr { th { "Federation" } td {
                @match node.federation() {
                    Some(f) => { "manifest version " (f.current().version()) ", " (peers.len()) " peers" }
                    None => { "stand-alone (not in a federation)" }
                }
            } }
            tr { th { "Records" } td {
                (store.record_count().unwrap_or(0)) " stored, " (store.tombstone_count().unwrap_or(0)) " retracted; "
                @for (k, n) in &counts { (k) " " (n) "; " }
            } }
            tr { th { "On disk" } td { (size(store.size_on_disk().unwrap_or(0))) } }
        }
        @if node.federation().is_some() { h2 { "Peers" } (peer_table(node, &peers)) }
        h2 { "Activity" }
        (svg::stacked_days(&format!("Records per day by kind, last {DAYS} days"), &plots.days, &plots.per_kind))
        (svg::bars(&format!("Listings by species, last {DAYS} days"), &plots.species))
        (svg::bars(&format!("Listings by country, last {DAYS} days"), &plots.countries))
        @if plots.capped { p.empty { "From the newest " (PLOT_RECORDS) " records of the period only." } }
        @if node.federation().is_some() {
            (svg::lines("Peer lag (records not pulled yet), last hour", now - lag::WINDOW_MS, now, &lag))
        }
    };
    shell(&web, "Overview", content)
}

fn peer_table(node: &Node, peers: &[pb::PeerState]) -> Markup {
    html! {
        @if peers.is_empty() { p.empty { "No peer yet." } } @else {
            table {
                tr { th { "Peer" } th { "State" } th { "Lag" } th { "Last success" } th { "Received" } th { "Sent" } th { "Rejected" } th { "Receipts queued" } th { "Last error" } }
                @for p in peers {
                    tr {
                        td { (p.agency) }
                        td { @if p.state == "authenticated" { span.ok { (p.state) } } @else { span.bad { (p.state) } } }
                        td { (p.peer_head.saturating_sub(p.cursor)) }
                        td { (when(p.last_success)) }
                        td { (p.received) } td { (p.sent) }
                        td { (p.rejected) @if !p.last_rejection.is_empty() { br; small { (p.last_rejection) } } }
                        td { (node.outbox_len(&p.agency)) }
                        td { small { (p.last_error) } }
                    }
                }
            }
        }
    }
}

/// `9.7 kB`, `12.3 MB`, `1.2 GB`.
fn size(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000_000 => format!("{:.1} kB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.1} GB", b / 1e9),
    }
}
