//! Seizures as rows of the CITES annual illegal-trade report (Resolution
//! Conf. 11.17 (Rev. CoP18), standard format agreed at SC71): one row per
//! species of a seizure, in the report's column order. See README
//! "Interop" for where each column comes from.

use std::collections::HashMap;
use std::io::Write;

use wildnet_proto::v1 as pb;

use super::ecomessage::{nationalities, quantity, transport};
use super::{Exported, day, money};

/// The report's columns, in order.
pub const COLUMNS: [&str; 17] = [
    "Date of seizure",
    "Species (scientific name)",
    "CITES Appendix",
    "Description of specimens",
    "Quantity",
    "Unit",
    "Reason for seizure",
    "Location of seizure",
    "Mode of transport",
    "Method of detection",
    "Country of origin",
    "Country(ies) of export/re-export and transit",
    "Country of destination",
    "Nationality of offender(s)",
    "Estimated value",
    "Disposal of confiscated specimens",
    "Legal action / penalties; additional information",
];

/// Writes the header and one row per seizure and species (a seizure with
/// no species gives one row with the species left blank).
pub fn write(
    out: &mut dyn Write,
    seizures: &[(&Exported, &pb::Seizure)],
    linked: &HashMap<String, Exported>,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for (r, s) in seizures {
        let blank = pb::Species::default();
        let species: Vec<&pb::Species> = if s.species.is_empty() {
            vec![&blank]
        } else {
            s.species.iter().collect()
        };
        for sp in species {
            w.write_record(row(r, s, sp, linked))?;
        }
    }
    w.flush()?;
    Ok(())
}

fn appendix(a: i32) -> &'static str {
    match pb::CitesAppendix::try_from(a) {
        Ok(pb::CitesAppendix::I) => "I",
        Ok(pb::CitesAppendix::Ii) => "II",
        Ok(pb::CitesAppendix::Iii) => "III",
        Ok(pb::CitesAppendix::NotListed) => "not listed",
        _ => "",
    }
}

fn row(
    r: &Exported,
    s: &pb::Seizure,
    sp: &pb::Species,
    linked: &HashMap<String, Exported>,
) -> Vec<String> {
    let (amount, unit) = quantity(s);
    let route = s.route.clone().unwrap_or_default();
    let place = [s.place.as_str(), s.country.as_str()]
        .iter()
        .filter(|x| !x.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let mut notes = vec![s.legal_action.clone()];
    if !s.concealment.is_empty() {
        notes.push(format!("concealment: {}", s.concealment));
    }
    notes.push(format!("wildnet record {} by {}", r.id, r.body.author));
    notes.retain(|n| !n.is_empty());
    vec![
        day(s.seized_at),
        sp.scientific_name.clone(),
        appendix(sp.cites_appendix).into(),
        s.cites_term.clone(),
        amount,
        unit,
        s.reason.clone(),
        place,
        transport(s.transport_mode),
        s.detection_method.clone(),
        route.origin.clone(),
        route.transit.join(";"),
        route.destination.clone(),
        nationalities(s, linked).join(";"),
        s.estimated_value.as_ref().map(money).unwrap_or_default(),
        s.disposal.clone(),
        notes.join("; "),
    ]
}
