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
        }))
    }
}
