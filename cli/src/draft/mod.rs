//! Building drafts from command-line flags and CSV rows. The node fills
//! author and time, normalises and validates; this module only maps what
//! the user typed onto the schema, with errors that name the flag. One
//! file per record kind; [`handling`] for the flags every kind shares.

use anyhow::{Context, bail};
use wildnet_proto::v1 as pb;

mod entity;
mod handling;
mod listing;
mod note;
mod seizure;

pub use entity::EntityArgs;
pub use handling::{HandlingArgs, code, share, tlp};
pub use listing::{CSV_COLUMNS, ListingArgs, csv_row, listing_row};
pub use note::NoteArgs;
pub use seizure::{SeizureArgs, transport_mode};

pub(crate) fn enum_value(what: &str, text: &str, names: &[(&str, i32)]) -> anyhow::Result<i32> {
    let t = text.trim().to_lowercase().replace('_', "-");
    names
        .iter()
        .find(|(n, _)| *n == t)
        .map(|(_, v)| *v)
        .with_context(|| {
            format!(
                "{what} {text:?} is not one of {}",
                names.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )
        })
}

/// `--item-type`.
pub fn item_type(text: &str) -> anyhow::Result<i32> {
    use pb::ItemType as I;
    enum_value(
        "item type",
        text,
        &[
            ("live", I::Live as i32),
            ("dead", I::Dead as i32),
            ("part", I::Part as i32),
            ("product", I::Product as i32),
            ("egg", I::Egg as i32),
            ("specimen", I::Specimen as i32),
            ("other", I::Other as i32),
        ],
    )
}

/// Minor-unit exponent of a currency (ISO 4217): 0, 2 or 3.
pub fn exponent(currency: &str) -> u32 {
    const ZERO: [&str; 17] = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    let c = currency.trim().to_uppercase();
    if ZERO.contains(&c.as_str()) {
        0
    } else if THREE.contains(&c.as_str()) {
        3
    } else {
        2
    }
}

/// Parses a decimal price (`450`, `450.5`, `1,200.00`) into minor units
/// of `currency`, exactly (no floating point).
pub fn price(text: &str, currency: &str) -> anyhow::Result<pb::Money> {
    if currency.trim().is_empty() {
        bail!("a price needs a --currency (ISO 4217, e.g. USD)");
    }
    let exp = exponent(currency);
    let t: String = text
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '_')
        .collect();
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    let ok = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= exp as usize;
    if !ok {
        bail!(
            "price {text:?} must be a plain amount with at most {exp} decimals for {currency}, e.g. 450.00"
        );
    }
    let whole: i64 = whole.parse().context("price too large")?;
    let frac_v: i64 = if frac.is_empty() { 0 } else { frac.parse()? };
    let scale = 10i64.pow(exp);
    let minor = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_v * 10i64.pow(exp - frac.len() as u32)))
        .context("price too large")?;
    Ok(pb::Money {
        amount_minor: minor,
        currency: currency.trim().to_uppercase(),
    })
}

pub(crate) fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// `kind:value` selectors, normalised by the node.
pub fn selectors(items: &[String]) -> anyhow::Result<Vec<pb::Selector>> {
    items
        .iter()
        .map(|s| {
            let (k, v) = s.split_once(':').with_context(|| {
                format!("selector {s:?} must be kind:value, e.g. phone:+254712345678")
            })?;
            let kind =
                wildnet_node::record::selector::kind_named(k).map_err(anyhow::Error::msg)? as i32;
            Ok(pb::Selector {
                kind,
                value: v.to_string(),
            })
        })
        .collect()
}

pub(crate) fn species(name: &str) -> Option<pb::Species> {
    (!name.trim().is_empty()).then(|| pb::Species {
        scientific_name: name.trim().to_string(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prices become exact minor units per the currency's exponent.
    #[test]
    fn prices() {
        assert_eq!(price("450", "usd").expect("p").amount_minor, 45000);
        assert_eq!(price("1,200.5", "EUR").expect("p").amount_minor, 120050);
        assert_eq!(price("3000", "JPY").expect("p").amount_minor, 3000);
        assert_eq!(price("1.234", "KWD").expect("p").amount_minor, 1234);
        assert!(price("1.234", "USD").is_err());
        assert!(price("-5", "USD").is_err());
        assert!(price("12", "").is_err());
        assert!(price("abc", "USD").is_err());
    }

    /// --share forms map to scope and lists; nonsense is refused.
    #[test]
    fn shares() {
        let mut h = pb::Handling::default();
        share("agency:ZA-DFFE, gb-nwcu", &mut h).expect("share");
        assert_eq!(h.scope, pb::Scope::Agencies as i32);
        assert_eq!(h.agencies, vec!["ZA-DFFE", "GB-NWCU"]);
        share("group:SADC", &mut h).expect("share");
        assert_eq!(
            (h.scope, h.groups.clone(), h.agencies.len()),
            (pb::Scope::Groups as i32, vec!["SADC".to_string()], 0)
        );
        share("federation", &mut h).expect("share");
        assert_eq!(h.scope, pb::Scope::Federation as i32);
        assert!(share("everyone", &mut h).is_err());
        assert!(tlp("amber-strict").is_ok() && tlp("purple").is_err());
    }

    /// A CSV row maps onto a listing with its handling and lists.
    #[test]
    fn csv_rows() {
        let h = csv::StringRecord::from(vec![
            "species",
            "platform",
            "title",
            "price",
            "currency",
            "tags",
            "share",
            "selectors",
        ]);
        let r = csv::StringRecord::from(vec![
            "Manis javanica",
            "olx",
            "scales",
            "10",
            "USD",
            "a;b",
            "federation",
            "phone:+254712345678",
        ]);
        let d = csv_row(&h, &r).expect("row");
        assert_eq!(d.tags, vec!["a", "b"]);
        assert_eq!(
            d.handling.map(|h| h.scope),
            Some(pb::Scope::Federation as i32)
        );
        let Some(pb::record_body::Payload::Listing(l)) = d.payload else {
            panic!("listing")
        };
        assert_eq!(l.price.map(|p| p.amount_minor), Some(1000));
        assert_eq!(l.selectors.len(), 1);
        let bad = csv::StringRecord::from(vec!["x", "olx", "t", "ten", "USD", "", "", ""]);
        assert!(csv_row(&h, &bad).is_err());
    }
}
