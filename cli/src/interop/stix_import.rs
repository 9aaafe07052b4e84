//! A STIX 2.1 bundle as drafts for `wildnet import`.
//!
//! An object exported by wildnet carries the `wildnet` extension and comes
//! back as the record it was made from (re-signed by the importing
//! agency). Other producers' objects are mapped from STIX properties:
//!
//! | STIX 2.1 | draft |
//! |---|---|
//! | `observed-data` | listing: its `url`, `user-account` (platform and seller), `email-addr`, `phone-number`, `cryptocurrency-wallet` and `file` (evidence) |
//! | `incident` | seizure: country and place from a `related-to` `location`, selectors from related observables |
//! | `threat-actor` | entity: person, or organisation for a crime syndicate; names and aliases |
//! | `note` | note: `abstract` and `content` |
//!
//! TLP comes from the TLP 2.0 or 1.0 marking definitions. Identities,
//! locations, relationships, marking and extension definitions and SCOs
//! are used by the objects above; any other type is skipped, with why.

use std::collections::HashMap;

use anyhow::{Context, bail};
use serde_json::{Map, Value};
use wildnet_proto::v1 as pb;

use super::stix::{TLP2, WILDLIFE_EXTENSION};

/// TLP 1.0 marking-definition ids (STIX 2.1 spec, section 7.2.1.4).
const TLP1: [(&str, pb::Tlp); 4] = [
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        pb::Tlp::Clear,
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        pb::Tlp::Green,
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        pb::Tlp::Amber,
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        pb::Tlp::Red,
    ),
];

/// Types that are read as part of other objects, not as records.
const SUPPORTING: [&str; 14] = [
    "identity",
    "location",
    "relationship",
    "marking-definition",
    "extension-definition",
    "url",
    "email-addr",
    "user-account",
    "phone-number",
    "cryptocurrency-wallet",
    "file",
    "domain-name",
    "ipv4-addr",
    "language-content",
];

/// One object of the bundle that maps to a draft.
#[derive(Debug)]
pub struct Mapped {
    /// 1-based position in the bundle's `objects`.
    pub index: u64,
    /// The STIX id.
    pub stix_id: String,
    /// The draft, or why the object cannot be one.
    pub draft: anyhow::Result<pb::RecordBody>,
}

/// What a bundle holds for wildnet.
#[derive(Debug, Default)]
pub struct Read {
    /// Objects that map to drafts.
    pub mapped: Vec<Mapped>,
    /// Objects used by the mapped ones.
    pub supporting: usize,
    /// Objects skipped: position, STIX id and the reason.
    pub skipped: Vec<(u64, String, String)>,
}

/// Reads a bundle.
pub fn read(bundle: &Value) -> anyhow::Result<Read> {
    if bundle.get("type").and_then(Value::as_str) != Some("bundle") {
        bail!("not a STIX 2.1 bundle: the top-level object needs \"type\": \"bundle\"");
    }
    let objects = bundle
        .get("objects")
        .and_then(Value::as_array)
        .context("the bundle has no \"objects\" array")?;
    let by_id: HashMap<&str, &Value> = objects
        .iter()
        .filter_map(|o| Some((o.get("id")?.as_str()?, o)))
        .collect();
    let mut related: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for o in objects {
        if str_of(o, "type") == "relationship" {
            related
                .entry(str_of(o, "source_ref"))
                .or_default()
                .push((str_of(o, "relationship_type"), str_of(o, "target_ref")));
        }
    }
    let ctx = Ctx { by_id, related };
    let mut out = Read::default();
    for (i, o) in objects.iter().enumerate() {
        let index = i as u64 + 1;
        let kind = str_of(o, "type");
        let id = str_of(o, "id").to_string();
        if matches!(kind, "observed-data" | "incident" | "threat-actor" | "note") {
            let draft = draft(o, &ctx).with_context(|| id.clone());
            out.mapped.push(Mapped {
                index,
                stix_id: id,
                draft,
            });
        } else if SUPPORTING.contains(&kind) {
            out.supporting += 1;
        } else {
            let reason = if kind.is_empty() {
                "an object without a \"type\"".to_string()
            } else {
                format!("no wildnet record kind maps a STIX {kind}")
            };
            out.skipped.push((index, id, reason));
        }
    }
    Ok(out)
}

struct Ctx<'a> {
    by_id: HashMap<&'a str, &'a Value>,
    related: HashMap<&'a str, Vec<(&'a str, &'a str)>>,
}

impl Ctx<'_> {
    /// The objects `o` refers to: `object_refs`, then `related-to` targets.
    fn refs<'b>(&'b self, o: &'b Value) -> impl Iterator<Item = &'b Value> + 'b {
        let direct = o
            .get("object_refs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str);
        let rel = self
            .related
            .get(str_of(o, "id"))
            .into_iter()
            .flatten()
            .map(|(_, t)| *t);
        direct
            .chain(rel)
            .filter_map(|id| self.by_id.get(id).copied())
    }
}

fn str_of<'a>(o: &'a Value, k: &str) -> &'a str {
    o.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn draft(o: &Value, ctx: &Ctx) -> anyhow::Result<pb::RecordBody> {
    let mut d = match o.pointer(&format!("/extensions/{WILDLIFE_EXTENSION}")) {
        Some(Value::Object(ext)) => from_extension(ext)?,
        _ => foreign(o, ctx)?,
    };
    let tag = format!("stix:{}", str_of(o, "id"));
    if tag.len() <= 64 && !d.tags.contains(&tag) {
        d.tags.push(tag);
    }
    Ok(d)
}

/// A wildnet-made object: the extension is the record's JSON view.
fn from_extension(ext: &Map<String, Value>) -> anyhow::Result<pb::RecordBody> {
    let mut m = ext.clone();
    for k in ["extension_type", "record_id", "signer_public_key"] {
        m.remove(k);
    }
    crate::json::draft_from_json(&Value::Object(m).to_string())
        .context("its wildnet extension is not a valid record")
}

/// Another producer's object, from its STIX properties.
fn foreign(o: &Value, ctx: &Ctx) -> anyhow::Result<pb::RecordBody> {
    use pb::record_body::Payload as P;
    let payload = match str_of(o, "type") {
        "observed-data" => P::Listing(listing(o, ctx)?),
        "incident" => P::Seizure(seizure(o, ctx)?),
        "threat-actor" => P::Entity(entity(o, ctx)),
        _ => P::Note(pb::Note {
            title: str_of(o, "abstract").to_string(),
            text: str_of(o, "content").to_string(),
            selectors: selectors(ctx.refs(o)),
        }),
    };
    let tlp = o
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(tlp_of);
    let tags = o
        .get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|l| !l.is_empty() && l.len() <= 64)
        .map(str::to_string)
        .collect();
    Ok(pb::RecordBody {
        handling: tlp.map(|t| pb::Handling {
            tlp: t as i32,
            ..Default::default()
        }),
        tags,
        payload: Some(payload),
        ..Default::default()
    })
}

/// The TLP of a marking-definition id (2.0 or 1.0).
fn tlp_of(id: &str) -> Option<pb::Tlp> {
    TLP2.iter()
        .find(|(_, m, ..)| *m == id)
        .map(|(t, ..)| *t)
        .or_else(|| TLP1.iter().find(|(m, _)| *m == id).map(|(_, t)| *t))
}

fn time_of(o: &Value, k: &str) -> anyhow::Result<i64> {
    let s = str_of(o, k);
    if s.is_empty() {
        return Ok(0);
    }
    crate::time::parse(s).with_context(|| format!("{k} {s:?} is not a STIX timestamp"))
}

fn listing(o: &Value, ctx: &Ctx) -> anyhow::Result<pb::Listing> {
    let mut l = pb::Listing {
        observed_at: time_of(o, "first_observed")?,
        ..Default::default()
    };
    for r in ctx.refs(o) {
        match str_of(r, "type") {
            "url" if l.url.is_empty() => l.url = str_of(r, "value").to_string(),
            "user-account" if l.seller_handle.is_empty() => {
                l.seller_handle = str_of(r, "account_login").to_string();
                if l.seller_handle.is_empty() {
                    l.seller_handle = str_of(r, "display_name").to_string();
                }
                l.platform = str_of(r, "account_type").to_string();
            }
            "file" => {
                if let Some(h) = r.pointer("/hashes/SHA-256").and_then(Value::as_str) {
                    l.evidence.push(pb::Evidence {
                        sha256: h.to_lowercase(),
                        media_type: str_of(r, "mime_type").to_string(),
                        note: str_of(r, "name").to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    l.selectors = selectors(ctx.refs(o));
    if l.platform.is_empty() {
        l.platform = url::Url::parse(&l.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
    }
    if l.platform.is_empty() {
        bail!(
            "a listing needs its platform: the observed-data refers to no user-account with an account_type and no url"
        );
    }
    Ok(l)
}

fn seizure(o: &Value, ctx: &Ctx) -> anyhow::Result<pb::Seizure> {
    let place = ctx
        .refs(o)
        .find(|r| str_of(r, "type") == "location" && !str_of(r, "country").is_empty())
        .context(
            "a seizure needs its country: relate the incident to a location with a \"country\"",
        )?;
    let name = str_of(o, "name");
    let about = str_of(o, "description");
    Ok(pb::Seizure {
        seized_at: time_of(o, "created")?,
        country: str_of(place, "country").to_uppercase(),
        place: if str_of(place, "city").is_empty() {
            str_of(place, "name")
        } else {
            str_of(place, "city")
        }
        .to_string(),
        description: [name, about]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("\n"),
        selectors: selectors(ctx.refs(o)),
        ..Default::default()
    })
}

fn entity(o: &Value, ctx: &Ctx) -> pb::Entity {
    let types: Vec<&str> = o
        .get("threat_actor_types")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let kind = if types.contains(&"crime-syndicate") {
        pb::EntityType::Organisation
    } else {
        pb::EntityType::Person
    };
    let mut names = vec![str_of(o, "name").to_string()];
    names.extend(
        o.get("aliases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    names.retain(|n| !n.trim().is_empty());
    pb::Entity {
        entity_type: kind as i32,
        names,
        description: str_of(o, "description").to_string(),
        selectors: selectors(ctx.refs(o)),
        ..Default::default()
    }
}

/// The selectors among referenced observables.
fn selectors<'a>(refs: impl Iterator<Item = &'a Value>) -> Vec<pb::Selector> {
    use pb::SelectorKind as K;
    let mut out: Vec<pb::Selector> = Vec::new();
    for r in refs {
        let (kind, value) = match str_of(r, "type") {
            "email-addr" => (K::Email, str_of(r, "value").to_string()),
            "phone-number" => (K::Phone, str_of(r, "value").to_string()),
            "cryptocurrency-wallet" => (K::Wallet, str_of(r, "value").to_string()),
            "user-account" if !str_of(r, "account_type").is_empty() => (
                K::Handle,
                format!(
                    "{}:{}",
                    str_of(r, "account_type"),
                    str_of(r, "account_login")
                ),
            ),
            _ => continue,
        };
        let s = pb::Selector {
            kind: kind as i32,
            value,
        };
        if !s.value.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}
