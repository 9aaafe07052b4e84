//! `publish entity`: people, companies, vessels and their selectors.

use clap::Args;
use wildnet_proto::v1 as pb;

use super::selectors;
use super::{enum_value, opt};

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
