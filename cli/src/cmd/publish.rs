//! `wildnet publish`: sign and store one record.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::draft::{EntityArgs, HandlingArgs, ListingArgs, NoteArgs, SeizureArgs};
use crate::{Format, explain, json, output};

/// Flags of `wildnet publish`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PublishArgs {
    /// The kind of record
    #[command(subcommand)]
    pub kind: Option<Kind>,
    /// A JSON draft file (any kind; `-` for stdin); flags below override it
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Handling flags
    #[command(flatten)]
    pub handling: HandlingArgs,
}

/// The record kinds with flags.
#[derive(Debug, Subcommand)]
pub enum Kind {
    /// An online offer of wildlife
    Listing {
        /// Listing fields
        #[command(flatten)]
        fields: ListingArgs,
        /// Handling flags
        #[command(flatten)]
        handling: HandlingArgs,
    },
    /// A person, organisation, account, phone, vehicle or vessel
    Entity {
        /// Entity fields
        #[command(flatten)]
        fields: EntityArgs,
        /// Handling flags
        #[command(flatten)]
        handling: HandlingArgs,
    },
    /// A seizure
    Seizure {
        /// Seizure fields
        #[command(flatten)]
        fields: SeizureArgs,
        /// Handling flags
        #[command(flatten)]
        handling: HandlingArgs,
    },
    /// A free-text intelligence report
    Note {
        /// Note fields
        #[command(flatten)]
        fields: NoteArgs,
        /// Handling flags
        #[command(flatten)]
        handling: HandlingArgs,
    },
}

/// Resolves a short id prefix to a full id through the node.
pub async fn full_id(client: &mut AgencyClient<Channel>, id: &str) -> anyhow::Result<String> {
    if id.len() == 64 {
        return Ok(id.to_lowercase());
    }
    let r = client
        .get(pb::GetRequest { id: id.to_string() })
        .await
        .map_err(explain)?
        .into_inner();
    Ok(r.record.map(|r| r.id).unwrap_or_default())
}

/// Runs `publish`.
pub async fn run(
    client: &mut AgencyClient<Channel>,
    a: PublishArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let (mut draft, handling) = match (a.kind, a.file) {
        (Some(_), Some(_)) => {
            bail!("give either a kind (listing, entity, seizure, note) or --file, not both")
        }
        (None, None) => bail!(
            "say what to publish: wildnet publish listing|entity|seizure|note [flags], or --file draft.json"
        ),
        (None, Some(path)) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .context("cannot read the draft from stdin")?
            } else {
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?
            };
            let d = json::draft_from_json(&text)
                .with_context(|| format!("{} is not a valid draft", path.display()))?;
            (d, a.handling)
        }
        (Some(kind), None) => {
            let (payload, handling) = match kind {
                Kind::Listing { fields, handling } => (fields.payload()?, handling),
                Kind::Entity { fields, handling } => (fields.payload()?, handling),
                Kind::Seizure { fields, handling } => (fields.payload()?, handling),
                Kind::Note { fields, handling } => (fields.payload()?, handling),
            };
            let d = pb::RecordBody {
                payload: Some(payload),
                ..Default::default()
            };
            (d, handling)
        }
    };
    handling.apply(&mut draft)?;
    if !draft.supersedes.is_empty() {
        draft.supersedes = full_id(client, &draft.supersedes)
            .await
            .context("--supersedes")?;
    }
    let r = client
        .publish(pb::PublishRequest { draft: Some(draft) })
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => output::json(&serde_json::json!({ "id": r.id, "duplicate": r.duplicate }))?,
        Format::Table if r.duplicate => output::line(&format!(
            "already held: {} (identical draft; nothing new stored)",
            r.id
        ))?,
        Format::Table => output::line(&format!("published {}", r.id))?,
    }
    Ok(ExitCode::SUCCESS)
}
