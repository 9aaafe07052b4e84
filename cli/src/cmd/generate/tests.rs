use std::collections::{HashMap, HashSet};

use super::*;

fn rows(spec: &Spec) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    listings(&mut out, spec, None).expect("generate");
    let mut rdr = csv::Reader::from_reader(out.as_slice());
    let headers = rdr.headers().expect("headers").clone();
    rdr.records()
        .map(|r| {
            let r = r.expect("row");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn spec(count: u64, seed: u64, country: Option<&str>) -> Spec {
    Spec {
        count,
        seed,
        world: 1,
        country: country.map(str::to_string),
    }
}

/// Every generated row parses as a draft, every selector is valid, and
/// every phone is in a reserved range (so on the shipped warninglist).
#[test]
fn rows_are_valid_and_values_reserved() {
    let mut out = Vec::new();
    listings(&mut out, &spec(600, 7, None), None).expect("generate");
    let mut rdr = csv::Reader::from_reader(out.as_slice());
    let headers = rdr.headers().expect("headers").clone();
    let lists = wildnet_node::warninglist::Warninglists::shipped();
    for row in rdr.records() {
        let row = row.expect("row");
        let d = crate::draft::csv_row(&headers, &row).expect("a valid draft");
        let Some(wildnet_proto::v1::record_body::Payload::Listing(l)) = d.payload else {
            panic!("not a listing");
        };
        for s in &l.selectors {
            let text = format!(
                "{}:{}",
                crate::interop::enum_name(
                    wildnet_proto::v1::SelectorKind::try_from(s.kind)
                        .expect("kind")
                        .as_str_name(),
                    "SELECTOR_KIND_"
                ),
                s.value
            );
            // Read as the node reads it: in the listing's country.
            let parsed = wildnet_node::record::selector::parse(&text, Some(&l.country))
                .unwrap_or_else(|e| panic!("{text} in {}: {e}", l.country));
            if s.kind == wildnet_proto::v1::SelectorKind::Phone as i32
                || s.kind == wildnet_proto::v1::SelectorKind::Email as i32
            {
                let key = text
                    .split_once(':')
                    .map(|(k, _)| format!("{k}:{}", parsed.value));
                let on = key.as_deref().and_then(|k| lists.find(k));
                assert!(on.is_some(), "{text} is not reserved");
            }
        }
    }
}

/// Titles, prices and code words vary: no toy sameness (the old generator
/// gave 11 titles in 1,000 rows), and prices follow the product and the
/// currency (a grey parrot is not offered for 58 rupiah).
#[test]
fn listings_vary_by_product_and_country() {
    let all = rows(&spec(1000, 3, None));
    let titles: HashSet<&String> = all.iter().map(|r| &r["title"]).collect();
    assert!(titles.len() > 400, "{} distinct titles", titles.len());
    let countries: HashSet<&String> = all.iter().map(|r| &r["country"]).collect();
    assert_eq!(countries.len(), 8);
    for r in all.iter().filter(|r| r["species"] == "Psittacus erithacus") {
        let p: f64 = r["price"].parse().expect("price");
        let usd = p / catalog::country(&r["country"]).expect("known").currency.1;
        assert!(
            usd >= 250.0,
            "{} {} is {usd} USD",
            r["price"],
            r["currency"]
        );
    }
    let focused = rows(&spec(300, 3, Some("VN")));
    assert!(focused.iter().all(|r| r["country"] == "VN"));
    assert!(focused.iter().any(|r| r["title"].contains("giá")
        || r["text"].contains("giá")
        || r["text"].contains("hàng")
        || r["text"].contains("bao")
        || r["text"].contains("ship")));
}

/// Two agencies' files (different row seeds, one world) share the
/// cross-border sellers' handles and nothing is accidental: a shared
/// handle belongs to a cross-border seller or is the courier decoy; the
/// decoy recurs past the over-correlation limit.
#[test]
fn planted_overlaps_and_decoys() {
    let handles = |rows: &[HashMap<String, String>]| -> HashSet<String> {
        rows.iter()
            .flat_map(|r| {
                r["selectors"]
                    .split(';')
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|s| s.starts_with("handle:"))
            .collect()
    };
    let ke = rows(&spec(2000, 11, Some("KE")));
    let vn = rows(&spec(2000, 12, Some("VN")));
    let world = world_of(&spec(2000, 11, Some("KE")));
    let cross: HashSet<String> = world
        .sellers
        .iter()
        .filter(|s| s.cross_border)
        .map(|s| format!("handle:{}", s.handle))
        .collect();
    let shared: HashSet<String> = handles(&ke).intersection(&handles(&vn)).cloned().collect();
    assert!(shared.len() >= 3, "planted overlaps: {shared:?}");
    for h in &shared {
        assert!(
            cross.contains(h) || h == &format!("handle:{DECOY_COURIER}"),
            "{h} overlaps by accident"
        );
    }
    let courier = ke
        .iter()
        .filter(|r| r["selectors"].contains(DECOY_COURIER))
        .count();
    assert!(courier > 20, "the decoy is on {courier} listings");
}

/// Seizures and entities are valid drafts with the report fields.
#[test]
fn seizures_and_entities_are_valid_drafts() {
    let s = spec(200, 5, None);
    let world = world_of(&s);
    let mut out = Vec::new();
    seizures::write(&mut out, &s, &world).expect("seizures");
    let text = String::from_utf8(out).expect("utf-8");
    let mut linked = 0;
    for line in text.lines() {
        let d = crate::json::draft_from_json(line).expect("a draft");
        let Some(wildnet_proto::v1::record_body::Payload::Seizure(z)) = d.payload else {
            panic!("not a seizure");
        };
        assert!(z.route.is_some() && !z.concealment.is_empty() && !z.cites_term.is_empty());
        assert!(z.quantity > 0 || z.weight_grams > 0);
        linked += usize::from(!z.selectors.is_empty());
    }
    assert!(linked > 20, "{linked} seizures carry a cross-border seller");
    let mut out = Vec::new();
    seizures::entities(&mut out, &world).expect("entities");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.lines().count() >= 4);
    for line in text.lines() {
        crate::json::draft_from_json(line).expect("an entity draft");
    }
}
