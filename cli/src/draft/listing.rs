//! `publish listing` and CSV rows: online sales.

use anyhow::Context;
use clap::Args;
use wildnet_proto::v1 as pb;

use super::{HandlingArgs, selectors, species};
use super::{item_type, opt, price};
use crate::time;

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

/// A listing record as one row in [`CSV_COLUMNS`] order, so `import` reads
/// it back; `None` for other kinds. Money is written in major units.
pub fn listing_row(body: &pb::RecordBody) -> Option<Vec<String>> {
    use crate::interop::enum_name;
    let Some(pb::record_body::Payload::Listing(l)) = &body.payload else {
        return None;
    };
    let h = body.handling.clone().unwrap_or_default();
    let share = match pb::Scope::try_from(h.scope).unwrap_or_default() {
        pb::Scope::Agencies => format!("agency:{}", h.agencies.join(",")),
        pb::Scope::Groups => format!("group:{}", h.groups.join(",")),
        pb::Scope::Federation => "federation".into(),
        _ => "local".into(),
    };
    let price = l
        .price
        .as_ref()
        .map(crate::interop::money)
        .unwrap_or_default();
    let (amount, currency) = price.split_once(' ').unwrap_or(("", ""));
    let item = match pb::ItemType::try_from(l.item_type).unwrap_or_default() {
        pb::ItemType::Unspecified => String::new(),
        t => enum_name(t.as_str_name(), "ITEM_TYPE_"),
    };
    let selectors: Vec<String> = l
        .selectors
        .iter()
        .map(|s| {
            let k = pb::SelectorKind::try_from(s.kind).unwrap_or_default();
            format!(
                "{}:{}",
                enum_name(k.as_str_name(), "SELECTOR_KIND_"),
                s.value
            )
        })
        .collect();
    Some(vec![
        l.species
            .as_ref()
            .map(|s| s.scientific_name.clone())
            .unwrap_or_default(),
        l.platform.clone(),
        l.url.clone(),
        l.title.clone(),
        l.text.clone(),
        l.seller_handle.clone(),
        l.seller_profile.clone(),
        amount.to_string(),
        currency.to_string(),
        if l.quantity > 0 {
            l.quantity.to_string()
        } else {
            String::new()
        },
        item,
        l.country.clone(),
        if l.observed_at > 0 {
            crate::time::rfc3339(l.observed_at)
        } else {
            String::new()
        },
        enum_name(
            pb::Tlp::try_from(h.tlp).unwrap_or_default().as_str_name(),
            "TLP_",
        ),
        share,
        enum_name(
            pb::HandlingCode::try_from(h.code)
                .unwrap_or_default()
                .as_str_name(),
            "HANDLING_CODE_",
        ),
        body.tags.join(";"),
        selectors.join(";"),
        l.evidence
            .iter()
            .map(|e| e.sha256.clone())
            .collect::<Vec<_>>()
            .join(";"),
    ])
}
