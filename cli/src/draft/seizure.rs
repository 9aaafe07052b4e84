//! `publish seizure`: what was seized, where, and the route.

use anyhow::Context;
use clap::Args;
use wildnet_proto::v1 as pb;

use super::{item_type, opt, price};
use super::{selectors, species};
use crate::time;

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
    /// An offender's selector, KIND:VALUE (repeatable): phone, email,
    /// handle (platform:handle), url, wallet (chain/address), imo, plate
    /// (country/plate); national phone formats are read in --country
    #[arg(long = "selector", value_name = "KIND:VALUE")]
    pub selectors: Vec<String>,
    /// air, sea, road, rail, post, courier, on-foot, other
    #[arg(long)]
    pub transport: Option<String>,
    /// How it was found, e.g. "x-ray", "sniffer dog", "intelligence"
    #[arg(long)]
    pub detection: Option<String>,
    /// Why it was seized, e.g. "no CITES permit"
    #[arg(long)]
    pub reason: Option<String>,
    /// CITES term code of the specimens, e.g. SCA, TUS, LIV, HOR, TIM
    #[arg(long)]
    pub cites_term: Option<String>,
    /// CITES unit of the reported quantity (kg, g, l, m3, …); unset: the
    /// number of specimens
    #[arg(long)]
    pub cites_unit: Option<String>,
    /// Estimated value, AMOUNT CUR, e.g. "120000 USD"
    #[arg(long, value_name = "AMOUNT CUR")]
    pub value: Option<String>,
    /// What became of the specimens, e.g. "held as evidence"
    #[arg(long)]
    pub disposal: Option<String>,
    /// Arrests, charges, penalties
    #[arg(long)]
    pub legal_action: Option<String>,
}

/// `--transport`.
pub fn transport_mode(text: &str) -> anyhow::Result<i32> {
    use pb::TransportMode as T;
    super::enum_value(
        "transport mode",
        text,
        &[
            ("air", T::Air as i32),
            ("sea", T::Sea as i32),
            ("road", T::Road as i32),
            ("rail", T::Rail as i32),
            ("post", T::Post as i32),
            ("courier", T::Courier as i32),
            ("on-foot", T::OnFoot as i32),
            ("other", T::Other as i32),
        ],
    )
}

/// `--value "AMOUNT CUR"`.
fn value(text: &str) -> anyhow::Result<pb::Money> {
    let (amount, cur) = text.trim().split_once(' ').with_context(|| {
        format!("--value {text:?} must be an amount and a currency, e.g. \"120000 USD\"")
    })?;
    price(amount.trim(), &cur.trim().to_uppercase())
        .with_context(|| format!("--value {text:?}: the amount is not a number"))
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
            selectors: selectors(&self.selectors)?,
            transport_mode: match &self.transport {
                Some(t) => transport_mode(t)?,
                None => 0,
            },
            detection_method: opt(&self.detection),
            reason: opt(&self.reason),
            cites_term: opt(&self.cites_term).to_uppercase(),
            cites_unit: opt(&self.cites_unit),
            estimated_value: self.value.as_deref().map(value).transpose()?,
            disposal: opt(&self.disposal),
            legal_action: opt(&self.legal_action),
        }))
    }
}
