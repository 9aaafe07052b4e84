//! `wildnet manifest`: what this node trusts, and installing a newer one.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use prost::Message;
use serde_json::{Value, json};
use tonic::transport::Channel;
use wildnet_node::membership::manifest::Trusted;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, output, time};

/// The manifest as JSON.
pub fn manifest_json(t: &Trusted) -> Value {
    let b = t.body();
    json!({
        "federation": b.federation,
        "version": b.version,
        "issued_at": time::rfc3339(b.issued_at),
        "agencies": b.agencies.iter().map(|a| json!({
            "id": a.id, "name": a.name, "country": a.country, "contact": a.contact, "address": a.address,
            "revoked_at": (a.revoked_at != 0).then(|| time::rfc3339(a.revoked_at)),
            "certs": a.certs.iter().map(|c| json!({
                "sha256": c.sha256, "added_at": time::rfc3339(c.added_at),
                "revoked_at": (c.revoked_at != 0).then(|| time::rfc3339(c.revoked_at)),
            })).collect::<Vec<_>>(),
            "signing_keys": a.signing_keys.iter().map(|k| json!({
                "public_key": hex::encode(&k.public_key),
                "fingerprint": ed25519_dalek::VerifyingKey::from_bytes(k.public_key.as_slice().try_into().unwrap_or(&[0; 32]))
                    .map(|v| wildnet_node::record::fingerprint(&v)).unwrap_or_default(),
                "added_at": time::rfc3339(k.added_at),
                "revoked_at": (k.revoked_at != 0).then(|| time::rfc3339(k.revoked_at)),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "groups": b.groups.iter().map(|g| json!({"name": g.name, "members": g.members})).collect::<Vec<_>>(),
    })
}

/// Prints a manifest as a table or JSON.
pub fn print_manifest(t: &Trusted, format: Format) -> anyhow::Result<()> {
    let v = manifest_json(t);
    if format == Format::Json {
        return output::json(&v);
    }
    output::line(&format!(
        "federation {:?}, manifest version {} issued {}",
        t.body().federation,
        t.version(),
        time::rfc3339(t.body().issued_at)
    ))?;
    let rows = v["agencies"]
        .as_array()
        .map(|a| a.iter().map(agency_row).collect())
        .unwrap_or_default();
    output::table(
        &[
            "agency",
            "name",
            "address",
            "status",
            "TLS certificates",
            "signing keys",
        ],
        rows,
    )?;
    for g in t.body().groups.iter() {
        output::line(&format!("group {}: {}", g.name, g.members.join(", ")))?;
    }
    Ok(())
}

/// One agency of the manifest as a table row.
fn agency_row(a: &Value) -> Vec<String> {
    vec![
        output::cell(a.get("id")),
        output::cell(a.get("name")),
        output::cell(a.get("address")),
        if a["revoked_at"].is_null() {
            "active".into()
        } else {
            format!("revoked {}", output::cell(a.get("revoked_at")))
        },
        key_list(&a["certs"]),
        key_list(&a["signing_keys"]),
    ]
}

/// Certificates or keys, one short fingerprint a line, revoked ones marked.
fn key_list(list: &Value) -> String {
    let Some(l) = list.as_array() else {
        return String::new();
    };
    l.iter()
        .map(|c| {
            let id = c["sha256"]
                .as_str()
                .or(c["fingerprint"].as_str())
                .unwrap_or("");
            let id = id.get(..16).unwrap_or(id);
            if c["revoked_at"].is_null() {
                id.to_string()
            } else {
                format!("{id} (revoked)")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Flags of `wildnet manifest`.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// show (default) or install FILE
    #[command(subcommand)]
    pub action: Option<ManifestAction>,
}

/// Manifest subcommands.
#[derive(Debug, Subcommand)]
pub enum ManifestAction {
    /// Show the manifest the node trusts now
    Show,
    /// Give the running node a newer manifest; it verifies, adopts and gossips it
    Install {
        /// The manifest file (manifest.pb from the secretariat)
        file: PathBuf,
    },
}

/// Runs `manifest`.
pub async fn manifest(
    client: &mut AgencyClient<Channel>,
    a: ManifestArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    match a.action.unwrap_or(ManifestAction::Show) {
        ManifestAction::Show => {
            let m = client
                .get_manifest(pb::GetManifestRequest {})
                .await
                .map_err(explain)?
                .into_inner();
            let body = pb::ManifestBody::decode(m.body.as_slice())
                .context("the node's manifest does not decode")?;
            // The node verified it; show it as the node trusts it.
            let t = unverified(m, body);
            print_manifest(&t, format)?;
        }
        ManifestAction::Install { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let m = pb::Manifest::decode(bytes.as_slice())
                .with_context(|| format!("{} is not a manifest", file.display()))?;
            let r = client
                .install_manifest(m)
                .await
                .map_err(explain)?
                .into_inner();
            match format {
                Format::Json => output::json(
                    &json!({"adopted": r.adopted, "version": r.version, "reason": r.reason}),
                )?,
                Format::Table if r.adopted => output::line(&format!(
                    "manifest version {} installed; spreading to peers",
                    r.version
                ))?,
                Format::Table => output::line(&format!(
                    "not installed: {} (version in force: {})",
                    r.reason, r.version
                ))?,
            }
            if !r.adopted {
                return Ok(ExitCode::from(3));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Wraps a manifest the node already verified, for display only.
fn unverified(m: pb::Manifest, body: pb::ManifestBody) -> Trusted {
    Trusted::for_display(m, body)
}
