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

/// Per peer: state (1 for the state it is in), lag, counters.
fn peer_metrics(node: &Node, peers: &[pb::PeerState], r: &mut Registry) {
    let state = Gauges::default();
    let lag = Gauges::default();
    let queued = Gauges::default();
    let last_ok = Gauges::default();
    let verify = Gauges::default();
    let verified_at = Gauges::default();
    let [received, sent, duplicates, rejected, limited] =
        std::array::from_fn::<Counters, 5, _>(|_| Counters::default());
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    for p in peers {
        let peer = label("peer", &p.agency);
        let mut with_state = peer.clone();
        with_state.push(("state", p.state.clone()));
        state.get_or_create(&with_state).set(1);
        lag.get_or_create(&peer)
            .set(i(p.peer_head.saturating_sub(p.cursor)));
        queued
            .get_or_create(&peer)
            .set(i(node.outbox_len(&p.agency) as u64));
        last_ok.get_or_create(&peer).set(p.last_success / 1000);
        verified_at.get_or_create(&peer).set(p.verified_at / 1000);
        for (result, v) in [
            ("missing", p.verify_missing),
            ("repaired", p.verify_repaired),
            ("peer_lacks", p.verify_peer_lacks),
        ] {
            let mut l = peer.clone();
            l.push(("result", result.into()));
            verify.get_or_create(&l).set(i(v));
        }
        for (family, v) in [
            (&received, p.received),
            (&sent, p.sent),
            (&duplicates, p.duplicates),
            (&rejected, p.rejected),
            (&limited, p.limited),
        ] {
            family.get_or_create(&peer).inc_by(v);
        }
    }
    r.register(
        "wildnet_peer_state",
        "1 for the state each peer is in (authenticated, connecting, failing, not in manifest)",
        state,
    );
    r.register(
        "wildnet_peer_lag_records",
        "Records of the peer's feed not pulled yet (its head minus this node's cursor)",
        lag,
    );
    r.register(
        "wildnet_peer_receipts_queued",
        "Delivery receipts waiting to go to the peer",
        queued,
    );
    r.register(
        "wildnet_peer_last_success_seconds",
        "Unix time of the last successful exchange (0: never)",
        last_ok,
    );
    r.register(
        "wildnet_peer_completeness_verified_seconds",
        "Unix time of the last completeness check that finished (0: never)",
        verified_at,
    );
    r.register("wildnet_peer_completeness_records", "Result of the last completeness check: records missing here, repaired, and lacking at the peer", verify);
    r.register(
        "wildnet_peer_received_records",
        "Records received from the peer and stored",
        received,
    );
    r.register(
        "wildnet_peer_sent_records",
        "Records sent to the peer",
        sent,
    );
    r.register(
        "wildnet_peer_duplicate_records",
        "Records received from the peer that were held already",
        duplicates,
    );
    r.register(
        "wildnet_peer_rejected_records",
        "Records and receipts from the peer refused (by reason: wildnet_peer_rejected_total)",
        rejected,
    );
    r.register(
        "wildnet_peer_limited_calls",
        "Calls of the peer refused over its allowance",
        limited,
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
