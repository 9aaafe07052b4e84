//! Building drafts from command-line flags and CSV rows. The node fills
//! author and time, normalises and validates; this module only maps what
//! the user typed onto the schema, with errors that name the flag.

use anyhow::{Context, bail};
use clap::Args;
use wildnet_proto::v1 as pb;

use crate::time;

/// Handling and versioning flags shared by every kind.
#[derive(Debug, Clone, Default, Args)]
pub struct HandlingArgs {
    /// TLP: clear, green, amber, amber-strict or red [node default: amber]
    #[arg(long)]
    pub tlp: Option<String>,
    /// Who may hold it: local, federation, agency:ID[,ID…] or group:NAME[,NAME…] [node default: local]
    #[arg(long)]
    pub share: Option<String>,
    /// Handling code: h0 (crime-fighting use only), h1 (not for court without permission), h2 (no onward dissemination), h3 (see --restrictions) [node default: h0]
    #[arg(long)]
    pub code: Option<String>,
    /// The restrictions, for --code h3
    #[arg(long)]
    pub restrictions: Option<String>,
    /// Source evaluation: A, B, C or X
    #[arg(long)]
    pub source: Option<String>,
    /// Information evaluation: 1, 2, 3 or 4
    #[arg(long)]
    pub information: Option<String>,
    /// Tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Related record id (repeatable)
    #[arg(long = "link", value_name = "ID")]
    pub links: Vec<String>,
    /// Id (or unique prefix) of your earlier version this record replaces
    #[arg(long, value_name = "ID")]
    pub supersedes: Option<String>,
    /// Retention limit: purge after this date (YYYY-MM-DD or RFC 3339)
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
}

fn enum_value(what: &str, text: &str, names: &[(&str, i32)]) -> anyhow::Result<i32> {
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

/// Parses `--tlp`.
pub fn tlp(text: &str) -> anyhow::Result<i32> {
    use pb::Tlp as T;
    enum_value(
        "--tlp",
        text,
        &[
            ("clear", T::Clear as i32),
            ("white", T::Clear as i32),
            ("green", T::Green as i32),
            ("amber", T::Amber as i32),
            ("amber-strict", T::AmberStrict as i32),
            ("amber+strict", T::AmberStrict as i32),
            ("red", T::Red as i32),
        ],
    )
}

/// Parses `--code`.
pub fn code(text: &str) -> anyhow::Result<i32> {
    use pb::HandlingCode as H;
    enum_value(
        "--code",
        text,
        &[
            ("h0", H::H0 as i32),
            ("h1", H::H1 as i32),
            ("h2", H::H2 as i32),
            ("h3", H::H3 as i32),
        ],
    )
}

/// Parses `--share` into scope, agencies and groups.
pub fn share(text: &str, h: &mut pb::Handling) -> anyhow::Result<()> {
    let t = text.trim();
    let list = |s: &str| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
    };
    h.agencies.clear();
    h.groups.clear();
    match t.split_once(':') {
        None if t.eq_ignore_ascii_case("local") => h.scope = pb::Scope::Local as i32,
        None if t.eq_ignore_ascii_case("federation") => h.scope = pb::Scope::Federation as i32,
        Some((k, v)) if k.eq_ignore_ascii_case("agency") || k.eq_ignore_ascii_case("agencies") => {
            h.scope = pb::Scope::Agencies as i32;
            h.agencies = list(v).into_iter().map(|a| a.to_uppercase()).collect();
        }
        Some((k, v)) if k.eq_ignore_ascii_case("group") || k.eq_ignore_ascii_case("groups") => {
            h.scope = pb::Scope::Groups as i32;
            h.groups = list(v);
        }
        _ => {
            bail!("--share {t:?} must be local, federation, agency:ID[,ID…] or group:NAME[,NAME…]")
        }
    }
    Ok(())
}

impl HandlingArgs {
    /// Applies the flags that were given onto a draft (flags win over a file).
    pub fn apply(&self, d: &mut pb::RecordBody) -> anyhow::Result<()> {
        let h = d.handling.get_or_insert_with(Default::default);
        if let Some(t) = &self.tlp {
            h.tlp = tlp(t)?;
        }
        if let Some(s) = &self.share {
            share(s, h)?;
        }
        if let Some(c) = &self.code {
            h.code = code(c)?;
        }
        if let Some(r) = &self.restrictions {
            h.restrictions = r.clone();
        }
        if let Some(s) = &self.source {
            use pb::SourceEvaluation as S;
            h.source = enum_value(
                "--source",
                s,
                &[
                    ("a", S::A as i32),
                    ("b", S::B as i32),
                    ("c", S::C as i32),
                    ("x", S::X as i32),
                ],
            )?;
        }
        if let Some(i) = &self.information {
            use pb::InformationEvaluation as I;
            h.information = enum_value(
                "--information",
                i,
                &[
                    ("1", I::InformationEvaluation1 as i32),
                    ("2", I::InformationEvaluation2 as i32),
                    ("3", I::InformationEvaluation3 as i32),
                    ("4", I::InformationEvaluation4 as i32),
                ],
            )?;
        }
        d.tags.extend(self.tags.iter().cloned());
        d.links.extend(self.links.iter().cloned());
        if let Some(s) = &self.supersedes {
            d.supersedes = s.clone();
        }
        if let Some(e) = &self.expires {
            d.expires_at = time::parse(e).context("--expires")?;
        }
        Ok(())
    }
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
fn exponent(currency: &str) -> u32 {
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

/// `kind:value` selectors, normalised by the node.
pub fn selectors(items: &[String]) -> anyhow::Result<Vec<pb::Selector>> {
    items
        .iter()
        .map(|s| {
            let (k, v) = s.split_once(':').with_context(|| {
                format!("selector {s:?} must be kind:value, e.g. phone:+254712345678")
            })?;
            let kind = wildnet_node::record::normalize::SELECTOR_KINDS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k.trim()))
                .map(|(_, k)| *k as i32)
                .with_context(|| {
                    format!("selector kind {k:?} must be phone, email, handle, url, wallet or imo")
                })?;
            Ok(pb::Selector {
                kind,
                value: v.to_string(),
            })
        })
        .collect()
}

fn species(name: &str) -> Option<pb::Species> {
    (!name.trim().is_empty()).then(|| pb::Species {
        scientific_name: name.trim().to_string(),
        ..Default::default()
    })
}

/// `publish listing` flags; also the CSV columns of `import`.
#[derive(Debug, Clone, Default, Args)]
pub struct ListingArgs {
    /// Species, scientific or common name (normalised by the node)
    #[arg(long)]
    pub species: Option<String>,
    /// Platform, e.g. facebook, olx, jiji
    #[arg(long)]
    pub platform: String,
    /// URL of the listing
    #[arg(long)]
    pub url: Option<String>,
    /// Listing title
    #[arg(long)]
    pub title: Option<String>,
    /// Listing text
    #[arg(long)]
    pub text: Option<String>,
    /// Seller handle on the platform
    #[arg(long)]
    pub seller: Option<String>,
    /// Seller profile URL
    #[arg(long)]
    pub seller_profile: Option<String>,
    /// Price as a decimal amount, e.g. 450.00
    #[arg(long)]
    pub price: Option<String>,
    /// Currency of the price (ISO 4217)
    #[arg(long)]
    pub currency: Option<String>,
    /// Quantity offered
    #[arg(long)]
    pub quantity: Option<u32>,
    /// live, dead, part, product, egg, specimen, other
    #[arg(long)]
    pub item_type: Option<String>,
    /// Country of the offer (ISO 3166 alpha-2)
    #[arg(long)]
    pub country: Option<String>,
    /// When the listing was seen (YYYY-MM-DD or RFC 3339)
    #[arg(long)]
    pub observed_at: Option<String>,
    /// Selector kind:value (repeatable): phone, email, handle, url, wallet, imo
    #[arg(long = "selector", value_name = "KIND:VALUE")]
    pub selectors: Vec<String>,
    /// SHA-256 of an evidence file (repeatable)
    #[arg(long = "evidence", value_name = "SHA256")]
    pub evidence: Vec<String>,
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

impl ListingArgs {
    /// The listing payload.
    pub fn payload(&self) -> anyhow::Result<pb::record_body::Payload> {
        let price = match (&self.price, &self.currency) {
            (Some(p), c) if !p.trim().is_empty() => Some(price(p, c.as_deref().unwrap_or(""))?),
            _ => None,
        };
        Ok(pb::record_body::Payload::Listing(pb::Listing {
            platform: self.platform.clone(),
            url: opt(&self.url),
            title: opt(&self.title),
            text: opt(&self.text),
            seller_handle: opt(&self.seller),
            seller_profile: opt(&self.seller_profile),
            price,
            quantity: self.quantity.unwrap_or(0),
            item_type: match &self.item_type {
                Some(t) if !t.trim().is_empty() => item_type(t)?,
                _ => 0,
            },
            species: self.species.as_deref().and_then(species),
            country: opt(&self.country),
            observed_at: match &self.observed_at {
                Some(t) if !t.trim().is_empty() => time::parse(t).context("observed_at")?,
                _ => 0,
            },
            evidence: self
                .evidence
                .iter()
                .map(|h| pb::Evidence {
                    sha256: h.clone(),
                    ..Default::default()
                })
                .collect(),
            selectors: selectors(&self.selectors)?,
        }))
    }
}

/// `publish entity` flags.
#[derive(Debug, Clone, Args)]
pub struct EntityArgs {
    /// person, organisation, online-account, phone, vehicle, vessel
    #[arg(long = "type")]
    pub entity_type: String,
    /// Name or alias (repeatable)
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Nationality, ISO 3166 alpha-2 (repeatable)
    #[arg(long = "nationality")]
    pub nationalities: Vec<String>,
    /// Selector kind:value (repeatable)
    #[arg(long = "selector", value_name = "KIND:VALUE")]
    pub selectors: Vec<String>,
    /// Description
    #[arg(long)]
    pub description: Option<String>,
}

impl EntityArgs {
    /// The entity payload.
    pub fn payload(&self) -> anyhow::Result<pb::record_body::Payload> {
        use pb::EntityType as E;
        let entity_type = enum_value(
            "--type",
            &self.entity_type,
            &[
                ("person", E::Person as i32),
                ("organisation", E::Organisation as i32),
                ("organization", E::Organisation as i32),
                ("online-account", E::OnlineAccount as i32),
                ("phone", E::Phone as i32),
                ("vehicle", E::Vehicle as i32),
                ("vessel", E::Vessel as i32),
            ],
        )?;
        Ok(pb::record_body::Payload::Entity(pb::Entity {
            entity_type,
            names: self.names.clone(),
            nationalities: self.nationalities.clone(),
            selectors: selectors(&self.selectors)?,
            description: opt(&self.description),
        }))
    }
}

/// `publish seizure` flags.
#[derive(Debug, Clone, Args)]
pub struct SeizureArgs {
    /// Date of the seizure (YYYY-MM-DD or RFC 3339)
    #[arg(long)]
    pub date: String,
    /// Country of the seizure (ISO 3166 alpha-2)
    #[arg(long)]
    pub country: String,
    /// Place (port, airport, town)
    #[arg(long)]
    pub place: Option<String>,
    /// Species (repeatable)
    #[arg(long = "species")]
    pub species: Vec<String>,
    /// live, dead, part, product, egg, specimen, other
    #[arg(long)]
    pub item_type: Option<String>,
    /// Number of items
    #[arg(long)]
    pub quantity: Option<u32>,
    /// Weight in kilograms, e.g. 12.5
    #[arg(long)]
    pub weight_kg: Option<String>,
    /// How it was hidden
    #[arg(long)]
    pub concealment: Option<String>,
    /// Route origin country
    #[arg(long)]
    pub origin: Option<String>,
    /// Route transit country (repeatable, in order)
    #[arg(long = "transit")]
    pub transit: Vec<String>,
    /// Route destination country
    #[arg(long)]
    pub destination: Option<String>,
    /// Linked entity record id (repeatable)
    #[arg(long = "entity", value_name = "ID")]
    pub entities: Vec<String>,
    /// Description
    #[arg(long)]
    pub description: Option<String>,
}

impl SeizureArgs {
    /// The seizure payload.
    pub fn payload(&self) -> anyhow::Result<pb::record_body::Payload> {
        let weight_grams = match &self.weight_kg {
            Some(w) => {
                let m = price(w, "KWD").with_context(|| {
                    format!("--weight-kg {w:?} must be kilograms with at most 3 decimals")
                })?;
                m.amount_minor as u64
            }
            None => 0,
        };
        let route = (self.origin.is_some()
            || self.destination.is_some()
            || !self.transit.is_empty())
        .then(|| pb::Route {
            origin: opt(&self.origin),
            transit: self.transit.clone(),
            destination: opt(&self.destination),
        });
        Ok(pb::record_body::Payload::Seizure(pb::Seizure {
            seized_at: time::parse(&self.date).context("--date")?,
            place: opt(&self.place),
            country: self.country.clone(),
            species: self.species.iter().filter_map(|s| species(s)).collect(),
            item_type: match &self.item_type {
                Some(t) => item_type(t)?,
                None => 0,
            },
            quantity: self.quantity.unwrap_or(0),
            weight_grams,
            concealment: opt(&self.concealment),
            route,
            entities: self.entities.clone(),
            description: opt(&self.description),
        }))
    }
}

/// `publish note` flags.
#[derive(Debug, Clone, Args)]
pub struct NoteArgs {
    /// Title
    #[arg(long)]
    pub title: Option<String>,
    /// The report text
    #[arg(long)]
    pub text: String,
}

impl NoteArgs {
    /// The note payload.
    pub fn payload(&self) -> pb::record_body::Payload {
        pb::record_body::Payload::Note(pb::Note {
            title: opt(&self.title),
            text: self.text.clone(),
        })
    }
}

/// The CSV columns `import` understands, one listing per row.
pub const CSV_COLUMNS: [&str; 19] = [
    "species",
    "platform",
    "url",
    "title",
    "text",
    "seller",
    "seller_profile",
    "price",
    "currency",
    "quantity",
    "item_type",
    "country",
    "observed_at",
    "tlp",
    "share",
    "code",
    "tags",
    "selectors",
    "evidence",
];

/// Maps one CSV row (by header) to a listing draft. Lists inside a cell
/// (`tags`, `selectors`, `evidence`) are separated by `;`.
pub fn csv_row(
    headers: &csv::StringRecord,
    row: &csv::StringRecord,
) -> anyhow::Result<pb::RecordBody> {
    let get = |name: &str| -> Option<String> {
        headers
            .iter()
            .position(|h| h == name)
            .and_then(|i| row.get(i))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let list = |name: &str| -> Vec<String> {
        get(name)
            .map(|s| {
                s.split(';')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let quantity = match get("quantity") {
        Some(q) => Some(
            q.parse::<u32>()
                .with_context(|| format!("quantity {q:?} is not a whole number"))?,
        ),
        None => None,
    };
    let args = ListingArgs {
        species: get("species"),
        platform: get("platform").unwrap_or_default(),
        url: get("url"),
        title: get("title"),
        text: get("text"),
        seller: get("seller"),
        seller_profile: get("seller_profile"),
        price: get("price"),
        currency: get("currency"),
        quantity,
        item_type: get("item_type"),
        country: get("country"),
        observed_at: get("observed_at"),
        selectors: list("selectors"),
        evidence: list("evidence"),
    };
    let mut d = pb::RecordBody {
        payload: Some(args.payload()?),
        ..Default::default()
    };
    HandlingArgs {
        tlp: get("tlp"),
        share: get("share"),
        code: get("code"),
        tags: list("tags"),
        ..Default::default()
    }
    .apply(&mut d)?;
    Ok(d)
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
