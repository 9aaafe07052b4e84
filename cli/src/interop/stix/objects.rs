//! The STIX objects and ids wildnet mints: namespaces, the official TLP 2.0
//! markings, deterministic ids, observables (SCOs), and the clean-up STIX
//! needs (no empty lists).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;
use wildnet_proto::v1 as pb;

/// wildnet's namespace for the UUIDv5 of the objects it mints.
pub const WILDNET_NAMESPACE: Uuid = Uuid::from_u128(0x775561c8_5c9c_46ad_893b_44ecb207ec09);
/// The STIX 2.1 namespace for SCO ids (spec section 2.9).
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);
/// The wildnet property extension: every wildnet field of a record.
pub const WILDLIFE_EXTENSION: &str = "extension-definition--1d3f9070-1d4d-4a84-89fb-ac30fd1f47c1";
/// The `phone-number` SCO (STIX 2.1 has none).
pub const PHONE_EXTENSION: &str = "extension-definition--0e821e94-5c31-4bdf-b6d6-7d3f6aafb059";
/// The `cryptocurrency-wallet` SCO (STIX 2.1 has none).
pub const WALLET_EXTENSION: &str = "extension-definition--04f88759-0622-4755-977d-c3c470092a6b";
/// When wildnet's extension definitions were published.
pub(super) const DEFINED: &str = "2026-12-01T00:00:00.000Z";

/// The OASIS TLP 2.0 marking definitions: (TLP, id, name, `tlp_2_0`).
pub const TLP2: [(pb::Tlp, &str, &str, &str); 5] = [
    (
        pb::Tlp::Clear,
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "TLP:CLEAR",
        "clear",
    ),
    (
        pb::Tlp::Green,
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "TLP:GREEN",
        "green",
    ),
    (
        pb::Tlp::Amber,
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "TLP:AMBER",
        "amber",
    ),
    (
        pb::Tlp::AmberStrict,
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "TLP:AMBER+STRICT",
        "amber+strict",
    ),
    (
        pb::Tlp::Red,
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        "TLP:RED",
        "red",
    ),
];

/// The TLP 2.0 extension the marking definitions use.
pub(super) const TLP2_EXTENSION: &str =
    "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// The official marking-definition object of a TLP level.
pub(super) fn tlp_marking(tlp: pb::Tlp) -> Option<Value> {
    let (_, id, name, level) = TLP2.iter().find(|(t, ..)| *t == tlp)?;
    Some(json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": id,
        "created": "2022-10-01T00:00:00.000Z",
        "name": name,
        "extensions": {
            TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level}
        }
    }))
}

/// `type--uuidv5(wildnet, name)`.
pub(super) fn minted(kind: &str, name: &str) -> String {
    format!(
        "{kind}--{}",
        Uuid::new_v5(&WILDNET_NAMESPACE, name.as_bytes())
    )
}

/// The STIX id of record `id` as an object of type `kind`.
pub fn record_object_id(kind: &str, record_id: &str) -> String {
    minted(kind, &format!("record:{record_id}:{kind}"))
}

/// The identity of an agency.
pub fn agency_identity_id(agency: &str) -> String {
    minted("identity", &format!("agency:{agency}"))
}

pub(super) fn wildnet_identity_id() -> String {
    minted("identity", "wildnet")
}

/// A STIX timestamp with milliseconds.
pub fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into())
}

/// `v` without empty lists, strings and objects (STIX refuses empty lists).
pub(super) fn prune(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| (k, prune(x)))
                .filter(|(_, x)| !is_empty(x))
                .collect(),
        ),
        Value::Array(a) => {
            Value::Array(a.into_iter().map(prune).filter(|x| !is_empty(x)).collect())
        }
        other => other,
    }
}

pub(super) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// An SCO with its deterministic id: UUIDv5 over the JCS form of its
/// id-contributing properties (here always all of `props`).
pub(super) fn sco(kind: &str, props: Value) -> Value {
    let canonical = serde_json::to_string(&sorted(&props)).unwrap_or_default();
    let id = format!(
        "{kind}--{}",
        Uuid::new_v5(&SCO_NAMESPACE, canonical.as_bytes())
    );
    let mut v = json!({"type": kind, "spec_version": "2.1", "id": id});
    if let (Value::Object(m), Value::Object(p)) = (&mut v, props) {
        m.extend(p);
    }
    v
}

/// `v` with object keys sorted (JCS for these string-only objects).
pub(super) fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let s: BTreeMap<&String, Value> = m.iter().map(|(k, x)| (k, sorted(x))).collect();
            Value::Object(s.into_iter().map(|(k, x)| (k.clone(), x)).collect())
        }
        other => other.clone(),
    }
}

/// The SCO of a selector: url, email-addr, user-account, phone-number or
/// cryptocurrency-wallet; IMO numbers and plates stay in the extension.
pub(super) fn observable(s: &pb::Selector, _platform: &str) -> Option<Value> {
    use pb::SelectorKind as K;
    let v = s.value.as_str();
    match K::try_from(s.kind).ok()? {
        K::Url => Some(sco("url", json!({"value": v}))),
        K::Email => Some(sco("email-addr", json!({"value": v}))),
        K::Handle => {
            let (platform, login) = v.split_once(':').unwrap_or(("", v));
            Some(sco(
                "user-account",
                json!({"account_type": platform, "account_login": login}),
            ))
        }
        K::Phone => Some(custom_sco("phone-number", PHONE_EXTENSION, v)),
        K::Wallet => Some(custom_sco("cryptocurrency-wallet", WALLET_EXTENSION, v)),
        _ => None,
    }
}

pub(super) fn custom_sco(kind: &str, extension: &str, value: &str) -> Value {
    let mut v = sco(kind, json!({"value": value}));
    v["extensions"] = json!({ extension: {"extension_type": "new-sco"} });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SCO ids are the ones the OASIS stix2 library computes for the same
    /// values, so a consumer merges wildnet's observables with its own.
    #[test]
    fn sco_ids_match_the_stix2_library() {
        let id = |v: Value| v["id"].as_str().map(str::to_string).unwrap_or_default();
        assert_eq!(
            id(sco(
                "url",
                json!({"value": "https://jiji.example/listing/9"})
            )),
            "url--188592f6-f964-5008-84c8-7744ad351c39"
        );
        assert_eq!(
            id(sco(
                "user-account",
                json!({"account_type": "jiji", "account_login": "rhino_horn_za"})
            )),
            "user-account--20260a90-c31c-58fe-a079-734e391ee0a2"
        );
        assert_eq!(
            id(sco(
                "email-addr",
                json!({"value": "horn.seller@example.com"})
            )),
            "email-addr--65e85d5e-9628-5f62-90a8-d2ae4df07b4c"
        );
    }

    /// Every TLP level maps to its OASIS TLP 2.0 object, named as OASIS
    /// names it; unset TLP gives no marking.
    #[test]
    fn tlp_markings_are_the_official_objects() {
        let amber = tlp_marking(pb::Tlp::AmberStrict).expect("marking");
        assert_eq!(
            amber["id"],
            "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
        );
        assert_eq!(amber["name"], "TLP:AMBER+STRICT");
        assert_eq!(
            amber["extensions"][TLP2_EXTENSION]["tlp_2_0"],
            "amber+strict"
        );
        assert!(tlp_marking(pb::Tlp::Unspecified).is_none());
        assert_eq!(TLP2.len(), 5);
    }

    /// The same record id always gives the same STIX id; another differs.
    #[test]
    fn record_ids_are_deterministic() {
        let a = record_object_id("incident", &"a".repeat(64));
        assert_eq!(a, record_object_id("incident", &"a".repeat(64)));
        assert_ne!(a, record_object_id("incident", &"b".repeat(64)));
        assert_ne!(a, record_object_id("note", &"a".repeat(64)));
        assert!(a.starts_with("incident--"));
    }
}
