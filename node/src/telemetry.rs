//! The node's event metrics: counters and histograms that the layers
//! above add to as things happen (a publish, a flush, a refused peer
//! record, a refused TLS handshake). Each node has one [`Telemetry`], made
//! with its store and shared by every layer above it; `/metrics`
//! (`crate::http`) registers these handles and adds the figures it reads
//! from the node's state at scrape time (records by kind, peer lag, …).
//! Pure: no I/O, no clock.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label pairs of one series, e.g. `[("peer", "KE-KWS")]`.
pub type Labels = Vec<(&'static str, String)>;

/// A counter per label set.
pub type Counters = Family<Labels, Counter>;

/// Why a pulled record or a receipt is refused (`reason` of
/// `wildnet_peer_rejected_total`): a record's own fault
/// (`RecordError::reason`), this node's rules (`policy`), storage
/// (`store`), or a receipt.
pub const REJECT_REASONS: [&str; 11] = [
    "malformed",
    "signature",
    "signer-key",
    "unbound-key",
    "revoked-key",
    "future",
    "invalid",
    "too-large",
    "policy",
    "store",
    "receipt",
];

/// Why a Federation connection is refused at the TLS handshake (`reason`
/// of `wildnet_tls_refusals_total`).
pub const TLS_REASONS: [&str; 12] = [
    "no-certificate",
    "unknown-issuer",
    "expired",
    "revoked",
    "invalid-certificate",
    "manifest",
    "incompatible",
    "alert",
    "not-tls",
    "connection",
    "timeout",
    "other",
];

/// The settings whose allowances refuse calls (`setting` of
/// `wildnet_limit_refusals_total`).
pub const LIMIT_SETTINGS: [&str; 4] = [
    "limits.api_requests",
    "limits.peer_requests",
    "limits.peer_streams",
    "deconfliction.peer_per_day",
];

/// The event metrics of one node. Cloning shares the same series.
#[derive(Debug, Clone)]
pub struct Telemetry {
    /// Records this node's agency published, by kind.
    pub publishes: Counters,
    /// Import rows by outcome (accepted, duplicate, rejected).
    pub import_rows: Counters,
    /// Agency API queries, seconds.
    pub query_seconds: Histogram,
    /// The writer's group commits (apply, write, flush, sync), seconds.
    pub flush_seconds: Histogram,
    /// Operations in one group commit.
    pub batch_ops: Histogram,
    /// Pulled records and receipts refused, by peer and reason.
    pub rejected: Counters,
    /// Deconfliction questions, by direction (asked, answered) and peer.
    pub deconfliction: Counters,
    /// Calls refused over an allowance, by the setting that set it.
    pub limit_refusals: Counters,
    /// Alerts raised.
    pub alerts: Counter,
    /// Federation connections refused at the TLS handshake, by reason.
    pub tls_refusals: Counters,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            publishes: Counters::default(),
            import_rows: Counters::default(),
            // 0.5 ms … ~16 s.
            query_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            // 0.25 ms … ~8 s.
            flush_seconds: Histogram::new(exponential_buckets(0.000_25, 2.0, 16)),
            batch_ops: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
            rejected: Counters::default(),
            deconfliction: Counters::default(),
            limit_refusals: Counters::default(),
            alerts: Counter::default(),
            tls_refusals: Counters::default(),
        }
    }
}

/// One label pair.
pub fn label(name: &'static str, value: &str) -> Labels {
    vec![(name, value.to_string())]
}

impl Telemetry {
    /// Adds one to the series of `family` with `labels`.
    pub fn inc(family: &Counters, labels: Labels) {
        family.get_or_create(&labels).inc();
    }

    /// Creates, at zero, the series of every known label value (kinds,
    /// outcomes, settings, reasons; and per peer of `peers`), so a scrape
    /// shows them before the first event.
    pub fn init_series(&self, kinds: &[&str], peers: &[String]) {
        for k in kinds {
            let _ = self.publishes.get_or_create(&label("kind", k));
        }
        for o in ["accepted", "duplicate", "rejected"] {
            let _ = self.import_rows.get_or_create(&label("outcome", o));
        }
        for s in LIMIT_SETTINGS {
            let _ = self.limit_refusals.get_or_create(&label("setting", s));
        }
        for r in TLS_REASONS {
            let _ = self.tls_refusals.get_or_create(&label("reason", r));
        }
        for p in peers {
            for r in REJECT_REASONS {
                let _ = self
                    .rejected
                    .get_or_create(&vec![("peer", p.clone()), ("reason", r.to_string())]);
            }
            for d in ["asked", "answered"] {
                let _ = self
                    .deconfliction
                    .get_or_create(&vec![("direction", d.to_string()), ("peer", p.clone())]);
            }
        }
    }

    /// Registers every handle under `wildnet_` names in `r`.
    pub fn register(&self, r: &mut Registry) {
        let counters: [(&str, &str, &Counters); 6] = [
            (
                "publishes",
                "Records published by this agency, by kind",
                &self.publishes,
            ),
            ("import_rows", "Import rows, by outcome", &self.import_rows),
            (
                "peer_rejected",
                "Pulled records and receipts refused, by peer and reason",
                &self.rejected,
            ),
            (
                "deconfliction_questions",
                "Deconfliction questions, by direction (asked, answered) and peer",
                &self.deconfliction,
            ),
            (
                "limit_refusals",
                "Calls refused over an allowance, by the setting that sets it",
                &self.limit_refusals,
            ),
            (
                "tls_refusals",
                "Federation connections refused at the TLS handshake, by reason",
                &self.tls_refusals,
            ),
        ];
        for (name, help, family) in counters {
            r.register(format!("wildnet_{name}"), help, family.clone());
        }
        r.register(
            "wildnet_alerts_raised",
            "Alerts raised",
            self.alerts.clone(),
        );
        r.register(
            "wildnet_query_duration_seconds",
            "Agency API queries",
            self.query_seconds.clone(),
        );
        r.register(
            "wildnet_writer_flush_duration_seconds",
            "Group commits of the storage writer (apply, flush, sync)",
            self.flush_seconds.clone(),
        );
        r.register(
            "wildnet_writer_batch_ops",
            "Operations in one group commit of the storage writer",
            self.batch_ops.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_their_series_and_register_under_wildnet_names() {
        let t = Telemetry::default();
        let c = t.clone();
        Telemetry::inc(&c.publishes, label("kind", "listing"));
        Telemetry::inc(&t.publishes, label("kind", "listing"));
        c.flush_seconds.observe(0.002);
        let mut r = Registry::default();
        t.register(&mut r);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).expect("encodes");
        assert!(
            text.contains("wildnet_publishes_total{kind=\"listing\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("wildnet_writer_flush_duration_seconds_count 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
