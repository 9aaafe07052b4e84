//! The formats other tools read and write: STIX 2.1 bundles (MISP,
//! OpenCTI, any TAXII client), the CITES annual illegal-trade report's
//! seizure table, and an Ecomessage-shaped seizure report. Pure
//! transforms of records already fetched from a node; `cmd::export` and
//! `cmd::import` do the I/O.

pub mod cites;
pub mod ecomessage;
pub mod stix;
pub mod stix_import;

use std::collections::HashMap;

use anyhow::Context;
use prost::Message;
use serde_json::Value;
use wildnet_proto::v1 as pb;

/// One record to export: its stored form, decoded body and JSON view.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The record id (64 hex).
    pub id: String,
    /// The signed body, decoded.
    pub body: pb::RecordBody,
    /// The JSON view `get --format json` prints.
    pub view: Value,
}

impl Exported {
    /// Decodes a stored record.
    pub fn from_stored(s: &pb::StoredRecord) -> anyhow::Result<Self> {
        let signed = s.signed.as_ref().context("record without signed bytes")?;
        let body = pb::RecordBody::decode(signed.body.as_slice())
            .with_context(|| format!("record {} does not decode", s.id))?;
        Ok(Exported {
            id: s.id.clone(),
            body,
            view: crate::json::record_view(s)?,
        })
    }

    /// The seizure payload, if this is one.
    pub fn seizure(&self) -> Option<&pb::Seizure> {
        match &self.body.payload {
            Some(pb::record_body::Payload::Seizure(s)) => Some(s),
            _ => None,
        }
    }
}

/// What the exporter knows about agencies (from the manifest in force).
pub type Agencies = HashMap<String, pb::ManifestAgency>;

/// A record the writer left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The record id.
    pub id: String,
    /// Why it is not in the output.
    pub reason: String,
}

/// The short lowercase name of a proto enum value (`TLP_AMBER_STRICT` →
/// `amber-strict`), as the CLI writes them.
pub fn enum_name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix)
        .unwrap_or(full)
        .to_lowercase()
        .replace('_', "-")
}

/// `YYYY-MM-DD` of unix ms (empty for 0).
pub fn day(ms: i64) -> String {
    if ms == 0 {
        return String::new();
    }
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// A money amount in major units, e.g. `120000.00 USD`.
pub fn money(m: &pb::Money) -> String {
    let exp = crate::draft::exponent(&m.currency);
    if exp == 0 {
        return format!("{} {}", m.amount_minor, m.currency);
    }
    let scale = 10i64.pow(exp);
    format!(
        "{}.{:0w$} {}",
        m.amount_minor / scale,
        m.amount_minor % scale,
        m.currency,
        w = exp as usize
    )
}
