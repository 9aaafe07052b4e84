//! `wildnet init`: create an agency dir.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::{Format, output};

/// Flags of `wildnet init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Agency id: ISO 3166 alpha-2, '-', 2-12 of A-Z0-9 (e.g. KE-KWS)
    #[arg(long)]
    pub agency: String,
    /// Agency name, e.g. "Kenya Wildlife Service"
    #[arg(long)]
    pub name: String,
    /// Country (ISO 3166 alpha-2); must match the agency id
    #[arg(long)]
    pub country: Option<String>,
    /// Directory to create the agency in
    #[arg(long)]
    pub dir: PathBuf,
}

/// Runs `init`.
pub fn run(a: &InitArgs, format: Format) -> anyhow::Result<ExitCode> {
    let country = a
        .country
        .clone()
        .unwrap_or_else(|| a.agency.chars().take(2).collect());
    let r = wildnet_node::identity::init(&a.dir, &a.agency, &a.name, &country)
        .with_context(|| format!("cannot initialise {}", a.dir.display()))?;
    match format {
        Format::Json => output::json(&serde_json::json!({
            "agency": a.agency,
            "dir": r.dir,
            "files": r.files,
            "signing_public_key": r.signing_public_key,
        }))?,
        Format::Table => {
            output::line(&format!("initialised {} in {}", a.agency, r.dir.display()))?;
            for f in &r.files {
                output::line(&format!("  {f}"))?;
            }
            output::line(&format!("signing key: {}", r.signing_public_key))?;
            output::line(&format!(
                "start the node with: wildnet-node --config {}",
                r.dir.join(wildnet_node::layout::CONFIG_FILE).display()
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Flags of `wildnet keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// What to do
    #[command(subcommand)]
    pub action: KeysAction,
}

/// Key subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KeysAction {
    /// Retire this agency's keys and make new ones with a new admission request
    Rotate {
        /// Agency dir (with node.toml)
        #[arg(long)]
        dir: PathBuf,
    },
}

/// Runs `keys`.
pub fn keys(a: &KeysArgs, format: Format) -> anyhow::Result<ExitCode> {
    let KeysAction::Rotate { dir } = &a.action;
    let r = wildnet_node::identity::rotate(dir)
        .with_context(|| format!("cannot rotate the keys of {}", dir.display()))?;
    match format {
        Format::Json => output::json(&serde_json::json!({
            "dir": r.dir, "files": r.files, "signing_public_key": r.signing_public_key,
        }))?,
        Format::Table => {
            output::line(&format!(
                "new keys in {} (old ones kept under keys/retired-*)",
                dir.display()
            ))?;
            output::line(&format!("signing key: {}", r.signing_public_key))?;
            output::line(&format!(
                "next: the secretariat runs `wildnet federation admit --rotate --request {}`, you run `wildnet federation join`, then restart the node",
                dir.join(wildnet_node::layout::ADMISSION_FILE).display()
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
