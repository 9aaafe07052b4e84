//! `publish note`: free text.

use clap::Args;
use wildnet_proto::v1 as pb;

use super::{opt, selectors};

/// `publish note` flags.
#[derive(Debug, Clone, Args)]
pub struct NoteArgs {
    /// Title
    #[arg(long)]
    pub title: Option<String>,
    /// The report text
    #[arg(long)]
    pub text: String,
    /// A selector the report names, KIND:VALUE (repeatable): phone,
    /// email, handle (platform:handle), url, wallet (chain/address), imo,
    /// plate (country/plate)
    #[arg(long = "selector", value_name = "KIND:VALUE")]
    pub selectors: Vec<String>,
}

impl NoteArgs {
    /// The note payload.
    pub fn payload(&self) -> anyhow::Result<pb::record_body::Payload> {
        Ok(pb::record_body::Payload::Note(pb::Note {
            title: opt(&self.title),
            text: self.text.clone(),
            selectors: selectors(&self.selectors)?,
        }))
    }
}
