//! `wildnet federation …` (the secretariat's offline commands, the
//! agency's `join`, `quickstart`), `wildnet manifest`, `wildnet peers` and
//! `wildnet sync`: one file per group.

mod manifest;
mod peers;
mod secretariat;

pub use manifest::{ManifestAction, ManifestArgs, manifest, manifest_json, print_manifest};
pub use peers::{SyncArgs, peers, sync};
pub use secretariat::{FederationAction, FederationArgs, GroupAction, run};
