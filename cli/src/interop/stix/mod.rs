//! Records as a STIX 2.1 bundle.
//!
//! | wildnet | STIX 2.1 |
//! |---|---|
//! | listing | `observed-data` → `url`, `user-account`, `email-addr`, `phone-number`, `cryptocurrency-wallet`, `file` |
//! | seizure | `incident`, `related-to` its `location`s (place, route) and the offenders' observables |
//! | entity | `threat-actor`; a person or organisation also an `identity` it is `attributed-to` |
//! | note | `note` (`object_refs`: the linked records exported with it, else the author) |
//! | author agency | `identity` (`created_by_ref` of every object) |
//! | TLP | the OASIS TLP 2.0 `marking-definition` objects, verbatim |
//! | every other field | the `wildnet` property extension (one `extension-definition`) |
//!
//! Ids are UUIDv5: SDOs from the record id (the same record always gives the
//! same STIX id), SCOs by the STIX 2.1 rule (namespace
//! `00abedb4-…`, over their id-contributing properties).

mod objects;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use wildnet_proto::v1 as pb;

use objects::{DEFINED, minted, observable, prune, sco, tlp_marking, wildnet_identity_id};
pub use objects::{
    PHONE_EXTENSION, SCO_NAMESPACE, TLP2, WALLET_EXTENSION, WILDLIFE_EXTENSION, WILDNET_NAMESPACE,
    agency_identity_id, record_object_id, timestamp,
};

use super::{Agencies, Exported, Skipped};

/// A bundle being built: objects by id, in the order first added.
#[derive(Default)]
struct Bundle {
    order: Vec<String>,
    objects: BTreeMap<String, Value>,
}

impl Bundle {
    fn add(&mut self, v: Value) -> String {
        let id = v["id"].as_str().unwrap_or_default().to_string();
        if !self.objects.contains_key(&id) {
            self.order.push(id.clone());
            self.objects.insert(id.clone(), v);
        }
        id
    }

    fn relate(&mut self, source: &str, target: &str, description: &str, created: &str) {
        let id = minted("relationship", &format!("{source}|related-to|{target}"));
        let mut rel = json!({
            "type": "relationship", "spec_version": "2.1", "id": id,
            "created": created, "modified": created,
            "relationship_type": "related-to",
            "source_ref": source, "target_ref": target,
        });
        if !description.is_empty() {
            rel["description"] = Value::from(description);
        }
        self.add(rel);
    }
}

/// The bundle of `records`, and the records it leaves out with the reason.
/// `agencies` names the authors' identities. The bundle's id is derived
/// from the records' ids, so one export gives one bundle id.
pub fn bundle(records: &[Exported], agencies: &Agencies) -> (Value, Vec<Skipped>) {
    let mut b = Bundle::default();
    let mut skipped = Vec::new();
    let in_set: BTreeMap<&str, &'static str> = records
        .iter()
        .filter_map(|r| sdo_type(&r.body).map(|t| (r.id.as_str(), t)))
        .collect();
    definitions(&mut b);
    for r in records {
        match sdo_type(&r.body) {
            Some(_) => record(&mut b, r, agencies, &in_set),
            None => skipped.push(Skipped {
                id: r.id.clone(),
                reason: format!(
                    "{} records have no STIX mapping (operations and retractions stay in wildnet)",
                    wildnet_node::record::kind_of(&r.body)
                ),
            }),
        }
    }
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let bundle_id = minted("bundle", &ids.join(","));
    let objects: Vec<Value> = b
        .order
        .iter()
        .filter_map(|id| b.objects.remove(id))
        .collect();
    (
        json!({"type": "bundle", "id": bundle_id, "objects": objects}),
        skipped,
    )
}

/// The SDO type a record maps to.
fn sdo_type(body: &pb::RecordBody) -> Option<&'static str> {
    use pb::record_body::Payload as P;
    match body.payload.as_ref()? {
        P::Listing(l) if has_observables(l) => Some("observed-data"),
        P::Listing(_) | P::Note(_) => Some("note"),
        P::Seizure(_) => Some("incident"),
        P::Entity(_) => Some("threat-actor"),
        _ => None,
    }
}

fn has_observables(l: &pb::Listing) -> bool {
    !l.url.is_empty()
        || !l.seller_handle.is_empty()
        || !l.evidence.is_empty()
        || l.selectors
            .iter()
            .any(|s| observable(s, &l.platform).is_some())
}

/// wildnet's identity and extension definitions, first in every bundle.
fn definitions(b: &mut Bundle) {
    let me = wildnet_identity_id();
    b.add(json!({
        "type": "identity", "spec_version": "2.1", "id": me,
        "created": DEFINED, "modified": DEFINED,
        "name": "wildnet", "identity_class": "system",
        "description": "wildnet, the federated wildlife-crime intelligence node: the author of the wildnet STIX extensions",
    }));
    for (id, name, kind, about) in [
        (
            WILDLIFE_EXTENSION,
            "wildnet wildlife record",
            "property-extension",
            "Every field of the wildnet record an object was made from: kind, species with CITES appendix, item type, quantity, weight, price, route, CITES term and unit, handling (TLP, scope, H0-H3 code, source and information evaluation), selectors and links. JSON Schema: docs/stix/wildnet-record.schema.json in the wildnet repository.",
        ),
        (
            PHONE_EXTENSION,
            "phone-number",
            "new-sco",
            "A telephone number: `value` in E.164, e.g. +254722333444.",
        ),
        (
            WALLET_EXTENSION,
            "cryptocurrency-wallet",
            "new-sco",
            "A cryptocurrency wallet: `value` is chain/address, e.g. btc/bc1q….",
        ),
    ] {
        b.add(json!({
            "type": "extension-definition", "spec_version": "2.1", "id": id,
            "created": DEFINED, "modified": DEFINED, "created_by_ref": me,
            "name": name, "description": about, "schema": about,
            "version": "1.0.0", "extension_types": [kind],
        }));
    }
}

/// The author's identity, added once.
fn author_identity(b: &mut Bundle, agency: &str, agencies: &Agencies) -> String {
    let id = agency_identity_id(agency);
    let mut v = json!({
        "type": "identity", "spec_version": "2.1", "id": id,
        "created": DEFINED, "modified": DEFINED,
        "name": agency, "identity_class": "organization",
        "sectors": ["government"],
    });
    if let Some(a) = agencies.get(agency) {
        if !a.name.is_empty() {
            v["description"] = Value::from(format!("{} ({agency})", a.name));
        }
        if !a.contact.is_empty() {
            v["contact_information"] = Value::from(a.contact.clone());
        }
    }
    b.add(v)
}

/// The common properties of a record's SDO.
fn common(r: &Exported, kind: &str, author: &str) -> Map<String, Value> {
    let created = timestamp(r.body.created_at);
    let mut m = Map::new();
    m.insert("type".into(), Value::from(kind));
    m.insert("spec_version".into(), Value::from("2.1"));
    m.insert("id".into(), Value::from(record_object_id(kind, &r.id)));
    m.insert("created".into(), Value::from(created.clone()));
    m.insert("modified".into(), Value::from(created));
    m.insert("created_by_ref".into(), Value::from(author));
    if !r.body.tags.is_empty() {
        m.insert("labels".into(), json!(r.body.tags));
    }
    m.insert(
        "external_references".into(),
        json!([{"source_name": "wildnet", "external_id": r.id, "description": format!("wildnet record by {}", r.body.author)}]),
    );
    let tlp = r
        .body
        .handling
        .as_ref()
        .and_then(|h| pb::Tlp::try_from(h.tlp).ok());
    if let Some((_, id, ..)) = TLP2.iter().find(|(t, ..)| Some(*t) == tlp) {
        m.insert("object_marking_refs".into(), json!([id]));
    }
    m.insert(
        "extensions".into(),
        json!({ WILDLIFE_EXTENSION: extension(&r.view) }),
    );
    m
}

/// The wildnet extension: the record's JSON view without what belongs to
/// this node's copy (feed position, signature check, who sent it).
fn extension(view: &Value) -> Value {
    let mut m = Map::new();
    m.insert("extension_type".into(), Value::from("property-extension"));
    if let Value::Object(v) = view {
        for (k, x) in v {
            match k.as_str() {
                "seq" | "stored_at" | "signature" | "received_from" | "superseded_by" => {}
                "id" => {
                    m.insert("record_id".into(), x.clone());
                }
                _ => {
                    m.insert(k.clone(), x.clone());
                }
            }
        }
    }
    prune(Value::Object(m))
}

/// Adds one record's objects.
fn record(b: &mut Bundle, r: &Exported, agencies: &Agencies, in_set: &BTreeMap<&str, &str>) {
    use pb::record_body::Payload as P;
    let author = author_identity(b, &r.body.author, agencies);
    if let Some(tlp) = r
        .body
        .handling
        .as_ref()
        .and_then(|h| pb::Tlp::try_from(h.tlp).ok())
        .and_then(tlp_marking)
    {
        b.add(tlp);
    }
    let Some(kind) = sdo_type(&r.body) else {
        return;
    };
    let mut m = common(r, kind, &author);
    let created = timestamp(r.body.created_at);
    let linked: Vec<String> = r
        .body
        .links
        .iter()
        .filter_map(|l| in_set.get(l.as_str()).map(|t| record_object_id(t, l)))
        .collect();
    let me = m["id"].as_str().unwrap_or_default().to_string();
    match r.body.payload.as_ref() {
        Some(P::Listing(l)) if kind == "observed-data" => listing(b, &mut m, l),
        Some(P::Listing(l)) => {
            m.insert("abstract".into(), Value::from(l.title.clone()));
            let content = format!("{}\n{}", l.title, l.text).trim().to_string();
            m.insert("content".into(), Value::from(content));
            note_refs(&mut m, &linked, &author);
        }
        Some(P::Note(n)) => {
            if !n.title.is_empty() {
                m.insert("abstract".into(), Value::from(n.title.clone()));
            }
            m.insert("content".into(), Value::from(n.text.clone()));
            note_refs(&mut m, &linked, &author);
            related_observables(b, &me, &n.selectors, "", &created);
        }
        Some(P::Seizure(s)) => seizure(b, &mut m, s, &me, &created),
        Some(P::Entity(e)) => entity(b, &mut m, e, &me, &author, &created, r),
        _ => return,
    }
    b.add(Value::Object(m));
    if kind != "note" {
        for target in &linked {
            b.relate(&me, target, "linked record", &created);
        }
    }
}

fn note_refs(m: &mut Map<String, Value>, linked: &[String], author: &str) {
    let refs = if linked.is_empty() {
        vec![author.to_string()]
    } else {
        linked.to_vec()
    };
    m.insert("object_refs".into(), json!(refs));
}

fn listing(b: &mut Bundle, m: &mut Map<String, Value>, l: &pb::Listing) {
    let seen = if l.observed_at > 0 {
        timestamp(l.observed_at)
    } else {
        m["created"].as_str().unwrap_or_default().to_string()
    };
    let mut refs = Vec::new();
    if !l.url.is_empty() {
        refs.push(b.add(sco("url", json!({"value": l.url}))));
    }
    if !l.seller_handle.is_empty() {
        refs.push(b.add(sco(
            "user-account",
            json!({"account_type": l.platform.to_lowercase(), "account_login": l.seller_handle}),
        )));
    }
    if !l.seller_profile.is_empty() {
        refs.push(b.add(sco("url", json!({"value": l.seller_profile}))));
    }
    for e in &l.evidence {
        let mut v = sco("file", json!({"hashes": {"SHA-256": e.sha256}}));
        if !e.media_type.is_empty() {
            v["mime_type"] = Value::from(e.media_type.clone());
        }
        refs.push(b.add(v));
    }
    for s in &l.selectors {
        if let Some(o) = observable(s, &l.platform) {
            refs.push(b.add(o));
        }
    }
    m.insert("first_observed".into(), Value::from(seen.clone()));
    m.insert("last_observed".into(), Value::from(seen));
    m.insert("number_observed".into(), Value::from(1));
    let mut once = std::collections::HashSet::new();
    refs.retain(|r| once.insert(r.clone()));
    m.insert("object_refs".into(), json!(refs));
}

fn seizure(b: &mut Bundle, m: &mut Map<String, Value>, s: &pb::Seizure, me: &str, created: &str) {
    let species: Vec<&str> = s
        .species
        .iter()
        .map(|x| x.scientific_name.as_str())
        .collect();
    let place = if s.place.is_empty() {
        s.country.clone()
    } else {
        format!("{}, {}", s.place, s.country)
    };
    let what = if species.is_empty() {
        "wildlife".to_string()
    } else {
        species.join(", ")
    };
    m.insert(
        "name".into(),
        Value::from(format!(
            "Seizure of {what} at {place} on {}",
            super::day(s.seized_at)
        )),
    );
    if !s.description.is_empty() {
        m.insert("description".into(), Value::from(s.description.clone()));
    }
    let here = location(b, &s.country, &s.place, created);
    b.relate(me, &here, "place of seizure", created);
    if let Some(route) = &s.route {
        let legs = std::iter::once(("route origin", &route.origin))
            .chain(route.transit.iter().map(|t| ("route transit", t)))
            .chain(std::iter::once(("route destination", &route.destination)));
        for (role, c) in legs.filter(|(_, c)| !c.is_empty()) {
            let loc = location(b, c, "", created);
            b.relate(me, &loc, role, created);
        }
    }
    related_observables(b, me, &s.selectors, "found on the offenders", created);
}

fn entity(
    b: &mut Bundle,
    m: &mut Map<String, Value>,
    e: &pb::Entity,
    me: &str,
    author: &str,
    created: &str,
    r: &Exported,
) {
    use pb::EntityType as T;
    let kind = T::try_from(e.entity_type).unwrap_or(T::Unspecified);
    let name = e
        .names
        .first()
        .cloned()
        .or_else(|| e.selectors.first().map(|s| s.value.clone()))
        .unwrap_or_else(|| "unnamed".into());
    m.insert("name".into(), Value::from(name.clone()));
    if e.names.len() > 1 {
        m.insert("aliases".into(), json!(e.names[1..]));
    }
    let types = if kind == T::Organisation {
        "crime-syndicate"
    } else {
        "criminal"
    };
    m.insert("threat_actor_types".into(), json!([types]));
    if !e.description.is_empty() {
        m.insert("description".into(), Value::from(e.description.clone()));
    }
    if matches!(kind, T::Person | T::Organisation) {
        let mut who = common(r, "identity", author);
        who.remove("extensions");
        who.insert("name".into(), Value::from(name));
        let class = if kind == T::Person {
            "individual"
        } else {
            "organization"
        };
        who.insert("identity_class".into(), Value::from(class));
        let who = b.add(Value::Object(who));
        let id = minted("relationship", &format!("{me}|attributed-to|{who}"));
        b.add(json!({
            "type": "relationship", "spec_version": "2.1", "id": id,
            "created": created, "modified": created,
            "relationship_type": "attributed-to", "source_ref": me, "target_ref": who,
        }));
    }
    related_observables(b, me, &e.selectors, "uses", created);
}

/// A `location`, one per country and place.
fn location(b: &mut Bundle, country: &str, place: &str, created: &str) -> String {
    let id = minted("location", &format!("location:{country}:{place}"));
    let mut v = json!({
        "type": "location", "spec_version": "2.1", "id": id,
        "created": created, "modified": created, "country": country,
    });
    if !place.is_empty() {
        v["name"] = Value::from(format!("{place}, {country}"));
    }
    b.add(v)
}

fn related_observables(
    b: &mut Bundle,
    me: &str,
    selectors: &[pb::Selector],
    description: &str,
    created: &str,
) {
    for s in selectors {
        if let Some(o) = observable(s, "") {
            let id = b.add(o);
            b.relate(me, &id, description, created);
        }
    }
}
