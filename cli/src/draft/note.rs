//! `publish note`: free text.

use clap::Args;
use wildnet_proto::v1 as pb;

use super::opt;

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
