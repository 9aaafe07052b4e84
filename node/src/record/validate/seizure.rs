//! The rules of a seizure's fields, including those the CITES annual
//! illegal-trade report and an Ecomessage ask for.

use wildnet_proto::v1 as pb;

use super::{
    MAX_ITEMS, V, country, currency, enum_set, err, items, record_id, selectors, short, species,
    text,
};

/// The units of quantity of the CITES annual-report guidelines (an empty
/// unit means a number of specimens).
pub const CITES_UNITS: [&str; 12] = [
    "kg", "g", "mg", "l", "ml", "m", "m2", "m3", "cm", "cm2", "cm3", "pairs",
];

pub(super) fn seizure(s: &pb::Seizure) -> V {
    if s.seized_at <= 0 {
        return Err(err(
            "seizure.seized_at",
            "required: the date of the seizure",
        ));
    }
    country("seizure.country", &s.country)?;
    short("seizure.place", &s.place, false)?;
    items("seizure.species", &s.species, MAX_ITEMS)?;
    for (i, sp) in s.species.iter().enumerate() {
        species(&format!("seizure.species[{i}]"), sp)?;
    }
    enum_set::<pb::ItemType>("seizure.item_type", s.item_type)?;
    short("seizure.concealment", &s.concealment, false)?;
    if let Some(r) = &s.route {
        for (f, c) in [
            ("seizure.route.origin", &r.origin),
            ("seizure.route.destination", &r.destination),
        ] {
            if !c.is_empty() {
                country(f, c)?;
            }
        }
        items("seizure.route.transit", &r.transit, MAX_ITEMS)?;
        for (i, c) in r.transit.iter().enumerate() {
            country(&format!("seizure.route.transit[{i}]"), c)?;
        }
    }
    items("seizure.entities", &s.entities, MAX_ITEMS)?;
    for (i, e) in s.entities.iter().enumerate() {
        record_id(&format!("seizure.entities[{i}]"), e)?;
    }
    selectors("seizure.selectors", &s.selectors)?;
    text("seizure.description", &s.description)?;
    report_fields(s)
}

/// The CITES report's and Ecomessage's fields.
fn report_fields(s: &pb::Seizure) -> V {
    enum_set::<pb::TransportMode>("seizure.transport_mode", s.transport_mode)?;
    for (f, v) in [
        ("seizure.detection_method", &s.detection_method),
        ("seizure.reason", &s.reason),
        ("seizure.disposal", &s.disposal),
        ("seizure.legal_action", &s.legal_action),
    ] {
        short(f, v, false)?;
    }
    let term_ok = s.cites_term.len() == 3 && s.cites_term.bytes().all(|b| b.is_ascii_uppercase());
    if !s.cites_term.is_empty() && !term_ok {
        return Err(err(
            "seizure.cites_term",
            format!(
                "{:?} is not a CITES term code: three capital letters, e.g. SCA, TUS, LIV",
                s.cites_term
            ),
        ));
    }
    if !s.cites_unit.is_empty() && !CITES_UNITS.contains(&s.cites_unit.as_str()) {
        return Err(err(
            "seizure.cites_unit",
            format!(
                "{:?} is not a CITES unit: one of {} (empty: a number of specimens)",
                s.cites_unit,
                CITES_UNITS.join(", ")
            ),
        ));
    }
    if let Some(v) = &s.estimated_value {
        if v.amount_minor < 0 {
            return Err(err(
                "seizure.estimated_value.amount_minor",
                "must not be negative",
            ));
        }
        currency("seizure.estimated_value.currency", &v.currency)?;
    }
    Ok(())
}
