//! Generated seizures (with routes, concealment, quantities, units and
//! the CITES report fields) and the entity drafts of the cross-border
//! sellers, both as import JSONL. A third of the seizures carry the
//! handle or wallet of a cross-border seller: the planted link between a
//! seizure at one agency and listings at others.

use std::io::Write;

use serde_json::{Value, json};

use super::catalog::{COUNTRIES, PRODUCTS, Product};
use super::world::{Rng, World};
use super::{Spec, country_for, day_in_2026, focus};

const TRANSIT_HUBS: [&str; 6] = ["AE", "ET", "QA", "TR", "MY", "SG"];
const DETECTION: [&str; 6] = [
    "x-ray",
    "sniffer dog",
    "intelligence",
    "risk profiling",
    "routine inspection",
    "online monitoring",
];
const LEGAL: [&str; 4] = [
    "1 arrested",
    "2 arrested, charged",
    "investigation ongoing",
    "no arrest: courier absconded",
];

/// How a consignment travels, by where it was stopped.
fn transport(place: &str) -> &'static str {
    if place.contains("airport") {
        "air"
    } else if place.contains("port") || place.contains("Felixstowe") {
        "sea"
    } else if place.contains("hub") {
        "post"
    } else {
        "road"
    }
}

/// Writes `spec.count` seizures.
pub(super) fn write(mut out: impl Write, spec: &Spec, world: &World) -> anyhow::Result<()> {
    let mut rng = Rng(spec.seed ^ 0x5E12_00E5);
    let cross: Vec<_> = world.sellers.iter().filter(|s| s.cross_border).collect();
    let focus = focus(spec.country.as_deref())?;
    for _ in 0..spec.count {
        let c = country_for(&mut rng, focus);
        let p = rng.pick(&PRODUCTS);
        let mut s = seizure(&mut rng, p, c.code, c.ports);
        if !cross.is_empty() && rng.chance(33) {
            let seller = rng.pick(&cross);
            let mut found = vec![format!("handle:{}", seller.handle)];
            found.extend(seller.wallet.iter().map(|w| format!("wallet:{w}")));
            s["selectors"] = json!(found);
        }
        let tlp = *rng.pick(&["green", "amber", "amber"]);
        let draft = json!({
            "seizure": s,
            "handling": {"tlp": tlp, "scope": "federation", "code": "h0"},
            "tags": ["generated", p.name.replace(' ', "-")],
        });
        serde_json::to_writer(&mut out, &draft)?;
        writeln!(out)?;
    }
    Ok(())
}

fn seizure(rng: &mut Rng, p: &Product, country: &str, ports: &[&str]) -> Value {
    let (species, _) = *rng.pick(p.species);
    let place = *rng.pick(ports);
    let origin = *rng.pick(p.origins);
    let markets: Vec<&str> = COUNTRIES
        .iter()
        .filter(|c| c.market && c.code != country)
        .map(|c| c.code)
        .collect();
    let destination = *rng.pick(&markets);
    let qty = rng.range(p.qty.0 as u64, p.qty.1 as u64) * rng.range(1, 20);
    let (term, unit) = p.cites;
    let grams = match p.unit {
        "kg" => qty * 1000,
        "g" => qty,
        _ => 0,
    };
    let usd = rng.range(p.usd.0 as u64, p.usd.1 as u64) * qty;
    let mut s = json!({
        "seized_at": day_in_2026(rng),
        "country": country,
        "place": place,
        "species": [{"scientific_name": species}],
        "item_type": p.item,
        "concealment": rng.pick(p.concealment),
        "route": {"origin": origin, "transit": [rng.pick(&TRANSIT_HUBS)], "destination": destination},
        "transport_mode": transport(place),
        "detection_method": rng.pick(&DETECTION),
        "reason": "no CITES permit",
        "cites_term": term,
        "estimated_value": {"amount_minor": usd * 100, "currency": "USD"},
        "disposal": "held as evidence",
        "legal_action": rng.pick(&LEGAL),
    });
    if !unit.is_empty() {
        s["cites_unit"] = json!(unit);
    }
    if grams > 0 {
        s["weight_grams"] = json!(grams);
    } else {
        s["quantity"] = json!(qty);
    }
    s
}

/// Writes one entity draft per cross-border seller.
pub(super) fn entities(mut out: impl Write, world: &World) -> anyhow::Result<()> {
    for s in world.sellers.iter().filter(|s| s.cross_border) {
        let mut selectors = vec![format!("handle:{}", s.handle)];
        selectors.extend(s.phone.iter().map(|x| format!("phone:{x}")));
        selectors.extend(s.email.iter().map(|x| format!("email:{x}")));
        selectors.extend(s.wallet.iter().map(|x| format!("wallet:{x}")));
        let draft = json!({
            "entity": {
                "entity_type": "online_account",
                "names": [s.handle],
                "nationalities": [s.home.code],
                "selectors": selectors,
                "description": "seller seen in several countries' markets",
            },
            "handling": {"tlp": "amber", "scope": "federation", "code": "h0"},
            "tags": ["generated", "cross-border"],
        });
        serde_json::to_writer(&mut out, &draft)?;
        writeln!(out)?;
    }
    Ok(())
}
