//! `/metrics`: the node's event metrics ([`crate::telemetry`]) and what
//! is read from its state at each scrape — records by kind, storage,
//! audit entries, the manifest, every peer's state, lag and counters, the
//! process's memory and file descriptors — in the OpenMetrics text format.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use wildnet_proto::v1 as pb;

use super::Web;
use crate::node::Node;
use crate::record::terms::Field;
use crate::telemetry::{Labels, label};

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Gauges = Family<Labels, Gauge>;
type Counters = Family<Labels, Counter>;

pub(super) async fn handler(State(web): State<Arc<Web>>) -> Response {
    let node = web.node.clone();
    let text = tokio::task::spawn_blocking(move || render(&node)).await;
    match text {
        Ok(Ok(t)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], t).into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// The whole exposition.
pub(super) fn render(node: &Node) -> Result<String, String> {
    let mut r = Registry::default();
    let peers: Vec<String> = node
        .federation()
        .map(|f| f.wanted_peers().into_iter().map(|(id, _)| id).collect())
        .unwrap_or_default();
    let telemetry = node.store().telemetry();
    telemetry.init_series(&crate::record::KINDS, &peers);
    telemetry.register(&mut r);
    store_metrics(node, &mut r)?;
    if let Some(fed) = node.federation() {
        let manifest = Gauge::<i64>::default();
        manifest.set(i64::try_from(fed.current().version()).unwrap_or(i64::MAX));
        r.register(
            "wildnet_manifest_version",
            "Version of the manifest in force",
            manifest,
        );
        peer_metrics(node, &fed.peer_states(), &mut r);
    }
    process_metrics(&mut r);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &r).map_err(|e| e.to_string())?;
    Ok(text)
}

fn gauge(r: &mut Registry, name: &str, help: &str, v: u64) {
    let g = Gauge::<i64>::default();
    g.set(i64::try_from(v).unwrap_or(i64::MAX));
    r.register(name, help, g);
}

fn store_metrics(node: &Node, r: &mut Registry) -> Result<(), String> {
    let store = node.store();
    let e = |e: crate::storage::StoreError| e.to_string();
    let by_kind = Gauges::default();
    for kind in crate::record::KINDS {
        let _ = by_kind.get_or_create(&label("kind", kind));
    }
    for (kind, n) in store.counts(Field::Kind).map_err(e)? {
        by_kind
            .get_or_create(&label("kind", &kind))
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    r.register(
        "wildnet_records",
        "Records stored (current and superseded versions), by kind",
        by_kind,
    );
    gauge(
        r,
        "wildnet_tombstones",
        "Tombstones of retracted records",
        store.tombstone_count().map_err(e)?,
    );
    gauge(
        r,
        "wildnet_store_bytes",
        "Size of the database on disk",
        store.size_on_disk().map_err(e)?,
    );
    gauge(
        r,
        "wildnet_feed_head",
        "Last feed position of this node",
        store.feed_head().map_err(e)?,
    );
    let audit = Counter::<u64>::default();
    audit.inc_by(store.audit_len().map_err(e)?);
    r.register("wildnet_audit_entries", "Entries of the audit chain", audit);
    gauge(
        r,
        "wildnet_alerts_unacknowledged",
        "Alerts not acknowledged yet",
        store.unacked_alerts().map_err(e)?,
    );
    Ok(())
}

/// A per-peer figure: its name, help, and value from the peer's state
/// (and the receipts queued for it).
type PeerFigure = (&'static str, &'static str, fn(&pb::PeerState, u64) -> u64);

/// The per-peer gauges.
const PEER_GAUGES: [PeerFigure; 4] = [
    (
        "wildnet_peer_lag_records",
        "Records of the peer's feed not pulled yet (its head minus this node's cursor)",
        |p, _| p.peer_head.saturating_sub(p.cursor),
    ),
    (
        "wildnet_peer_receipts_queued",
        "Delivery receipts waiting to go to the peer",
        |_, queued| queued,
    ),
    (
        "wildnet_peer_last_success_seconds",
        "Unix time of the last successful exchange (0: never)",
        |p, _| u64::try_from(p.last_success / 1000).unwrap_or(0),
    ),
    (
        "wildnet_peer_completeness_verified_seconds",
        "Unix time of the last completeness check that finished (0: never)",
        |p, _| u64::try_from(p.verified_at / 1000).unwrap_or(0),
    ),
];

/// The per-peer counters (their `_total` is added by the encoder).
const PEER_COUNTERS: [PeerFigure; 5] = [
    (
        "wildnet_peer_received_records",
        "Records received from the peer and stored",
        |p, _| p.received,
    ),
    (
        "wildnet_peer_sent_records",
        "Records sent to the peer",
        |p, _| p.sent,
    ),
    (
        "wildnet_peer_duplicate_records",
        "Records received from the peer that were held already",
        |p, _| p.duplicates,
    ),
    (
        "wildnet_peer_rejected_records",
        "Records and receipts from the peer refused (by reason: wildnet_peer_rejected_total)",
        |p, _| p.rejected,
    ),
    (
        "wildnet_peer_limited_calls",
        "Calls of the peer refused over its allowance",
        |p, _| p.limited,
    ),
];

/// Per peer: its state (1 for the state it is in), the completeness
/// check's results, and the gauges and counters above.
fn peer_metrics(node: &Node, peers: &[pb::PeerState], r: &mut Registry) {
    let queued: Vec<u64> = peers
        .iter()
        .map(|p| node.outbox_len(&p.agency) as u64)
        .collect();
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    for (name, help, value) in PEER_GAUGES {
        let f = Gauges::default();
        for (p, q) in peers.iter().zip(&queued) {
            f.get_or_create(&label("peer", &p.agency))
                .set(i(value(p, *q)));
        }
        r.register(name, help, f);
    }
    for (name, help, value) in PEER_COUNTERS {
        let f = Counters::default();
        for (p, q) in peers.iter().zip(&queued) {
            f.get_or_create(&label("peer", &p.agency))
                .inc_by(value(p, *q));
        }
        r.register(name, help, f);
    }
    let (state, verify) = (Gauges::default(), Gauges::default());
    for p in peers {
        let with = |k: &'static str, v: &str| vec![("peer", p.agency.clone()), (k, v.to_string())];
        state.get_or_create(&with("state", &p.state)).set(1);
        for (result, v) in [
            ("missing", p.verify_missing),
            ("repaired", p.verify_repaired),
            ("peer_lacks", p.verify_peer_lacks),
        ] {
            verify.get_or_create(&with("result", result)).set(i(v));
        }
    }
    r.register(
        "wildnet_peer_state",
        "1 for the state each peer is in (authenticated, connecting, failing, not in manifest)",
        state,
    );
    r.register(
        "wildnet_peer_completeness_records",
        "Result of the last completeness check: records missing here, repaired, and lacking at the peer",
        verify,
    );
}

/// `process_resident_memory_bytes` and `process_open_fds` from /proc.
fn process_metrics(r: &mut Registry) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
    if let Some(kb) = rss {
        gauge(
            r,
            "process_resident_memory_bytes",
            "Resident memory size",
            kb * 1024,
        );
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        gauge(
            r,
            "process_open_fds",
            "Open file descriptors",
            dir.count() as u64,
        );
    }
    let info = Family::<Labels, Gauge>::default();
    info.get_or_create(&label("version", env!("CARGO_PKG_VERSION")))
        .set(1);
    r.register("wildnet_build", "The node's version", info);
}
