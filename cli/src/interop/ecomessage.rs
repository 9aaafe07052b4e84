//! Seizures as Ecomessage-shaped reports: INTERPOL's uniform format for
//! environmental-crime intelligence travels NCB to NCB. The official form
//! is not public; this follows its published purposes (the reporting
//! agency and reference, offence, place, specimens, modus operandi,
//! transport, route, persons, detection, legal action, handling). See
//! README "Interop" for the field mapping.

use std::collections::HashMap;

use serde_json::{Value, json};
use wildnet_proto::v1 as pb;

use super::{Agencies, Exported, day, enum_name, money};

/// One seizure as a report. `linked` holds the entity records this node
/// has for the seizure's `entities`; their names and nationalities are
/// written only with `nominal` (nominal data leaves only when asked).
pub fn message(
    r: &Exported,
    s: &pb::Seizure,
    agencies: &Agencies,
    linked: &HashMap<String, Exported>,
    nominal: bool,
) -> Value {
    let h = r.body.handling.clone().unwrap_or_default();
    let agency = agencies.get(&r.body.author);
    let field = |f: fn(&pb::ManifestAgency) -> &String| agency.map(f).cloned().unwrap_or_default();
    let specimens: Vec<Value> = s.species.iter().map(|sp| specimen(s, sp)).collect();
    let route = s.route.clone().unwrap_or_default();
    json!({
        "format": "wildnet ecomessage-shaped seizure report, version 1",
        "reference": r.id,
        "reporting_agency": {
            "id": r.body.author,
            "name": field(|a| &a.name),
            "country": field(|a| &a.country),
            "contact": field(|a| &a.contact),
        },
        "handling": {
            "tlp": enum_name(pb::Tlp::try_from(h.tlp).unwrap_or_default().as_str_name(), "TLP_"),
            "code": enum_name(pb::HandlingCode::try_from(h.code).unwrap_or_default().as_str_name(), "HANDLING_CODE_"),
            "restrictions": h.restrictions,
        },
        "offence": {
            "type": "illegal wildlife trade",
            "date": day(s.seized_at),
            "reason": s.reason,
        },
        "place": {"place": s.place, "country": s.country},
        "specimens": specimens,
        "modus_operandi": {
            "concealment": s.concealment,
            "transport_mode": transport(s.transport_mode),
            "detection_method": s.detection_method,
        },
        "route": {"origin": route.origin, "transit": route.transit, "destination": route.destination},
        "persons": persons(s, linked, nominal),
        "identifiers": s.selectors.iter().map(|x| json!({
            "kind": enum_name(pb::SelectorKind::try_from(x.kind).unwrap_or_default().as_str_name(), "SELECTOR_KIND_"),
            "value": x.value,
        })).collect::<Vec<_>>(),
        "estimated_value": s.estimated_value.as_ref().map(money),
        "disposal": s.disposal,
        "legal_action": s.legal_action,
        "description": s.description,
    })
}

/// The transport mode's name (empty when unset).
pub fn transport(mode: i32) -> String {
    match pb::TransportMode::try_from(mode) {
        Ok(pb::TransportMode::Unspecified) | Err(_) => String::new(),
        Ok(m) => enum_name(m.as_str_name(), "TRANSPORT_MODE_"),
    }
}

/// The quantity and unit a report states: the CITES unit's amount (weight
/// for a mass unit), else the number of specimens, else the weight in kg.
pub fn quantity(s: &pb::Seizure) -> (String, String) {
    let kg = s.weight_grams as f64 / 1000.0;
    match s.cites_unit.as_str() {
        "kg" if s.weight_grams > 0 => (format!("{kg}"), "kg".into()),
        "g" if s.weight_grams > 0 => (s.weight_grams.to_string(), "g".into()),
        "" if s.quantity > 0 => (s.quantity.to_string(), String::new()),
        "" if s.weight_grams > 0 => (format!("{kg}"), "kg".into()),
        unit if s.quantity > 0 => (s.quantity.to_string(), unit.into()),
        unit => (String::new(), unit.into()),
    }
}

fn specimen(s: &pb::Seizure, sp: &pb::Species) -> Value {
    let (amount, unit) = quantity(s);
    json!({
        "scientific_name": sp.scientific_name,
        "common_name": sp.common_name,
        "cites_appendix": enum_name(pb::CitesAppendix::try_from(sp.cites_appendix).unwrap_or_default().as_str_name(), "CITES_APPENDIX_"),
        "cites_term": s.cites_term,
        "item_type": enum_name(pb::ItemType::try_from(s.item_type).unwrap_or_default().as_str_name(), "ITEM_TYPE_"),
        "quantity": amount,
        "unit": unit,
        "items": s.quantity,
        "weight_kg": s.weight_grams as f64 / 1000.0,
    })
}

fn persons(s: &pb::Seizure, linked: &HashMap<String, Exported>, nominal: bool) -> Value {
    let held: Vec<&Exported> = s.entities.iter().filter_map(|e| linked.get(e)).collect();
    if !nominal {
        return json!({
            "withheld": s.entities.len(),
            "why": "nominal data leaves only with --nominal",
        });
    }
    let listed: Vec<Value> = held
        .iter()
        .filter_map(|e| match &e.body.payload {
            Some(pb::record_body::Payload::Entity(x)) => Some(json!({
                "reference": e.id,
                "type": enum_name(pb::EntityType::try_from(x.entity_type).unwrap_or_default().as_str_name(), "ENTITY_TYPE_"),
                "names": x.names,
                "nationalities": x.nationalities,
            })),
            _ => None,
        })
        .collect();
    json!({"listed": listed, "not_held_here": s.entities.len() - held.len()})
}

/// The nationalities of a seizure's offenders, from its linked entities.
pub fn nationalities(s: &pb::Seizure, linked: &HashMap<String, Exported>) -> Vec<String> {
    let mut out: Vec<String> = s
        .entities
        .iter()
        .filter_map(|e| linked.get(e))
        .filter_map(|e| match &e.body.payload {
            Some(pb::record_body::Payload::Entity(x)) => Some(x.nationalities.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    out.sort();
    out.dedup();
    out
}
