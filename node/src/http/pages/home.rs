//! `/`: the node at a glance — agency, manifest, records, peers with
//! their state and lag, and the plots (records per day by kind, listings
//! by species and country, peer lag over the last hour).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use wildnet_proto::v1 as pb;

use super::{Viewer, off_runtime, shell, when};
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

/// The figures of the overview's table, read off the runtime.
struct Holdings {
    counts: Vec<(String, u64)>,
    records: u64,
    tombstones: u64,
    disk: u64,
    /// Each peer with the receipts queued for it.
    peers: Vec<(pb::PeerState, usize)>,
}

fn holdings(node: &Node) -> Result<Holdings, NodeError> {
    let store = node.store();
    let peers = node
        .federation()
        .map(|f| f.peer_states())
        .unwrap_or_default();
    Ok(Holdings {
        counts: store.counts(Field::Kind)?,
        records: store.record_count()?,
        tombstones: store.tombstone_count()?,
        disk: store.size_on_disk()?,
        peers: peers
            .into_iter()
            .map(|p| {
                let queued = node.outbox_len(&p.agency);
                (p, queued)
            })
            .collect(),
    })
}

pub(super) async fn page(State(web): State<Arc<Web>>, viewer: Viewer) -> Response {
    let now = crate::now_ms();
    let read = off_runtime(&web, move |w| {
        Ok((holdings(&w.node)?, plots(&w.node, now)?))
    })
    .await;
    let (h, plots) = match read {
        Ok(r) => r,
        Err(page) => return page,
    };
    // Counts and figures drawn from records, as `wildnet stats` shows them.
    viewer.audit(&web, "overview".into());
    let node = &web.node;
    let lag = web.lag.snapshot().into_iter().collect::<Vec<_>>();
    let content = html! {
        table {
            tr { th { "Agency" } td { (node.agency()) " — " (node.name()) } }
            tr { th { "Federation" } td {
                @match node.federation() {
                    Some(f) => { "manifest version " (f.current().version()) ", " (h.peers.len()) " peers" }
                    None => { "stand-alone (not in a federation)" }
                }
            } }
            tr { th { "Records" } td {
                (h.records) " stored, " (h.tombstones) " retracted; "
                @for (k, n) in &h.counts { (k) " " (n) "; " }
            } }
            tr { th { "On disk" } td { (size(h.disk)) } }
        }
        @if node.federation().is_some() { h2 { "Peers" } (peer_table(&h.peers)) }
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

fn peer_table(peers: &[(pb::PeerState, usize)]) -> Markup {
    html! {
        @if peers.is_empty() { p.empty { "No peer yet." } } @else {
            table {
                tr { th { "Peer" } th { "State" } th { "Lag" } th { "Last success" } th { "Received" } th { "Sent" } th { "Rejected" } th { "Receipts queued" } th { "Last error" } }
                @for (p, queued) in peers {
                    tr {
                        td { (p.agency) }
                        td { @if p.state == "authenticated" { span.ok { (p.state) } } @else { span.bad { (p.state) } } }
                        td { (p.peer_head.saturating_sub(p.cursor)) }
                        td { (when(p.last_success)) }
                        td { (p.received) } td { (p.sent) }
                        td { (p.rejected) @if !p.last_rejection.is_empty() { br; small { (p.last_rejection) } } }
                        td { (queued) }
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
