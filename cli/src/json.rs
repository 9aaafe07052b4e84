//! The JSON shape of records and drafts, for scripts and `--file` drafts.
//!
//! Built on the proto3 JSON mapping (pbjson, `.proto` field names) with
//! three readability changes applied in both directions: enum values drop
//! their type prefix (`TLP_AMBER` ↔ `AMBER`), times are RFC 3339 (`*_at`,
//! `window_*`; input also takes `YYYY-MM-DD` or unix ms), and 64-bit
//! amounts are numbers.

use anyhow::{Context, bail};
use serde_json::{Map, Value};
use wildnet_proto::v1 as pb;

use crate::time;

/// Field name → enum value prefix.
const ENUMS: [(&str, &str); 12] = [
    ("tlp", "TLP_"),
    ("scope", "SCOPE_"),
    ("code", "HANDLING_CODE_"),
    ("source", "SOURCE_EVALUATION_"),
    ("information", "INFORMATION_EVALUATION_"),
    ("cites_appendix", "CITES_APPENDIX_"),
    ("item_type", "ITEM_TYPE_"),
    ("kind", "SELECTOR_KIND_"),
    ("entity_type", "ENTITY_TYPE_"),
    ("answer", "OPERATION_ANSWER_"),
    ("status", "OPERATION_STATUS_"),
    ("transport_mode", "TRANSPORT_MODE_"),
];

/// Payload field names of `RecordBody`.
const PAYLOADS: [&str; 8] = wildnet_node::record::KINDS;

fn is_time(key: &str) -> bool {
    key.ends_with("_at") || key == "window_start" || key == "window_end"
}

fn prefix_of(key: &str) -> Option<&'static str> {
    ENUMS.iter().find(|(k, _)| *k == key).map(|(_, p)| *p)
}

/// Rewrites pbjson output for people and scripts.
fn outward(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if let (Some(p), Value::String(s)) = (prefix_of(k), &*x) {
                    *x = Value::String(s.strip_prefix(p).unwrap_or(s).to_string());
                } else if is_time(k) {
                    let ms = match &*x {
                        Value::String(s) => s.parse::<i64>().ok(),
                        Value::Number(n) => n.as_i64(),
                        _ => None,
                    };
                    if let Some(ms) = ms {
                        *x = Value::String(time::rfc3339(ms));
                    }
                } else if k == "amount_minor" || k == "weight_grams" {
                    if let Value::String(s) = &*x
                        && let Ok(n) = s.parse::<i64>()
                    {
                        *x = Value::from(n);
                    }
                } else {
                    outward(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(outward),
        _ => {}
    }
}

/// A selector written as `"kind:value"` text, as on the command line,
/// becomes `{"kind": …, "value": …}`.
fn selector_object(x: &mut Value) {
    if let Value::String(s) = &*x
        && let Some((kind, value)) = s.split_once(':')
    {
        let mut m = Map::new();
        m.insert("kind".into(), Value::from(kind.trim()));
        m.insert("value".into(), Value::from(value));
        *x = Value::Object(m);
    }
}

/// Inverse of [`outward`] for drafts written by people.
fn inward(v: &mut Value) -> anyhow::Result<()> {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if (k == "selectors" || k == "target_selectors")
                    && let Value::Array(a) = x
                {
                    a.iter_mut().for_each(selector_object);
                }
                if let (Some(p), Value::String(s)) = (prefix_of(k), &*x) {
                    let up = s.trim().to_uppercase().replace('-', "_");
                    let full = if up.starts_with(p) {
                        up
                    } else {
                        format!("{p}{up}")
                    };
                    *x = Value::String(full);
                } else if is_time(k) {
                    if let Value::String(s) = &*x {
                        let ms = time::parse(s).with_context(|| format!("field {k}"))?;
                        *x = Value::from(ms);
                    }
                } else {
                    inward(x)?;
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                inward(x)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Parses one draft: `{"listing": {...}, "handling": {...}, "tags": [...]}`,
/// or the flat shape `get --format json` prints (`"kind": "listing"` with
/// the payload fields beside it).
pub fn draft_from_json(text: &str) -> anyhow::Result<pb::RecordBody> {
    let mut v: Value = serde_json::from_str(text).context("not valid JSON")?;
    let Value::Object(m) = &mut v else {
        bail!("a draft must be a JSON object");
    };
    for k in [
        "id",
        "author",
        "created_at",
        "signature",
        "seq",
        "stored_at",
        "superseded_by",
        "received_from",
        "history",
        "holders",
        "schema_version",
    ] {
        m.remove(k);
    }
    if let Some(Value::String(kind)) = m.remove("kind")
        && !PAYLOADS.iter().any(|p| m.contains_key(*p))
    {
        let kind = kind.to_lowercase();
        if !PAYLOADS.contains(&kind.as_str()) {
            bail!("unknown kind {kind:?}: use one of {}", PAYLOADS.join(", "));
        }
        let body_keys = ["handling", "tags", "supersedes", "links", "expires_at"];
        let payload: Map<String, Value> = m
            .iter()
            .filter(|(k, _)| !body_keys.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        m.retain(|k, _| body_keys.contains(&k.as_str()));
        m.insert(kind, Value::Object(payload));
    }
    inward(&mut v)?;
    serde_json::from_value(v).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The JSON object of a stored record: id, kind, author, created_at,
/// handling, … and the payload's fields at the top level.
pub fn record_view(s: &pb::StoredRecord) -> anyhow::Result<Value> {
    use prost::Message;
    let signed = s.signed.as_ref().context("record without signed bytes")?;
    let body =
        pb::RecordBody::decode(signed.body.as_slice()).context("record body does not decode")?;
    let kind = wildnet_node::record::kind_of(&body);
    let mut v = serde_json::to_value(&body)?;
    outward(&mut v);
    let Value::Object(mut m) = v else {
        bail!("record did not serialise to an object");
    };
    let mut out = Map::new();
    out.insert("id".into(), Value::from(s.id.clone()));
    out.insert("kind".into(), Value::from(kind));
    out.insert("author".into(), Value::from(body.author.clone()));
    out.insert(
        "created_at".into(),
        Value::from(time::rfc3339(body.created_at)),
    );
    for k in ["handling", "tags", "supersedes", "links", "expires_at"] {
        if let Some(x) = m.remove(k) {
            out.insert(k.into(), x);
        }
    }
    out.entry("tags")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(Value::Object(p)) = m.remove(kind) {
        for (k, x) in p {
            out.entry(k).or_insert(x);
        }
    }
    out.insert("signature".into(), Value::from(s.signature.clone()));
    out.insert(
        "signer_public_key".into(),
        Value::from(hex::encode(&signed.signer_public_key)),
    );
    out.insert("seq".into(), Value::from(s.seq));
    out.insert("stored_at".into(), Value::from(time::rfc3339(s.stored_at)));
    if !s.superseded_by.is_empty() {
        out.insert("superseded_by".into(), Value::from(s.superseded_by.clone()));
    }
    if !s.received_from.is_empty() {
        out.insert("received_from".into(), Value::from(s.received_from.clone()));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written draft with short enum names and dates parses.
    #[test]
    fn friendly_draft() {
        let d = draft_from_json(
            r#"{"handling": {"tlp": "amber-strict", "scope": "agencies", "agencies": ["ZA-DFFE"], "code": "H2"},
                "tags": ["op-x"],
                "listing": {"platform": "olx", "title": "ivory", "observed_at": "2026-11-01",
                            "selectors": [{"kind": "phone", "value": "+254 712 345678"}],
                            "price": {"amount_minor": 1500, "currency": "KES"}}}"#,
        )
        .expect("parses");
        let h = d.handling.expect("handling");
        assert_eq!(h.tlp, pb::Tlp::AmberStrict as i32);
        assert_eq!(h.code, pb::HandlingCode::H2 as i32);
        let Some(pb::record_body::Payload::Listing(l)) = d.payload else {
            panic!("not a listing");
        };
        assert_eq!(l.observed_at, 1_793_491_200_000);
        assert_eq!(l.selectors[0].kind, pb::SelectorKind::Phone as i32);
        assert_eq!(l.price.map(|p| p.amount_minor), Some(1500));
    }

    /// Selectors may be written `"kind:value"`, on every kind that has them.
    #[test]
    fn selectors_as_text() {
        let d = draft_from_json(
            r#"{"seizure": {"seized_at": "2026-11-02", "country": "TZ",
                            "selectors": ["phone:0754 123 456", "plate:TZ/T 123 ABC"]}}"#,
        )
        .expect("parses");
        let Some(pb::record_body::Payload::Seizure(s)) = d.payload else {
            panic!("not a seizure");
        };
        assert_eq!(s.selectors[0].kind, pb::SelectorKind::Phone as i32);
        assert_eq!(s.selectors[0].value, "0754 123 456");
        assert_eq!(s.selectors[1].kind, pb::SelectorKind::Plate as i32);
        let d = draft_from_json(r#"{"note": {"text": "x", "selectors": ["handle:fb:@a"]}}"#)
            .expect("parses");
        let Some(pb::record_body::Payload::Note(n)) = d.payload else {
            panic!("not a note");
        };
        assert_eq!(n.selectors[0].value, "fb:@a");
    }

    /// Unknown fields and bad enum values are errors, not silently dropped.
    #[test]
    fn strict_drafts() {
        assert!(draft_from_json(r#"{"note": {"txt": "x"}}"#).is_err());
        assert!(
            draft_from_json(r#"{"handling": {"tlp": "purple"}, "note": {"text": "x"}}"#).is_err()
        );
        assert!(draft_from_json("[1]").is_err());
        assert!(draft_from_json(r#"{"kind": "gossip", "text": "x"}"#).is_err());
    }

    /// The flat shape `get --format json` prints is accepted back as a draft.
    #[test]
    fn flat_round_trip() {
        let d = draft_from_json(
            r#"{"id": "ab", "kind": "note", "author": "KE-KWS", "title": "t", "text": "body",
                "handling": {"tlp": "GREEN", "scope": "LOCAL", "code": "H0"}, "tags": []}"#,
        )
        .expect("parses");
        assert!(matches!(d.payload, Some(pb::record_body::Payload::Note(n)) if n.text == "body"));
    }
}
