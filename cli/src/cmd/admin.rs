//! `wildnet retract`, `audit`, `info`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, output, time};

/// Flags of `wildnet retract`.
#[derive(Debug, Args)]
pub struct RetractArgs {
    /// Id (or unique prefix) of your record to withdraw
    pub id: String,
    /// Why it is withdrawn (kept in the tombstone and the audit log)
    #[arg(long)]
    pub reason: String,
}

/// Runs `retract`.
pub async fn retract(
    client: &mut AgencyClient<Channel>,
    a: RetractArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = client
        .retract(pb::RetractRequest {
            id: a.id.clone(),
            reason: a.reason,
        })
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => {
            output::json(&serde_json::json!({ "retracted": a.id, "retraction": r.id }))?
        }
        Format::Table => output::line(&format!("retracted {} (retraction record {})", a.id, r.id))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Flags of `wildnet audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// list or verify
    #[command(subcommand)]
    pub action: AuditAction,
}

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Show audit entries
    List {
        /// First entry to show
        #[arg(long, default_value_t = 1)]
        since: u64,
        /// Most entries to show
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Recompute the hash chain; names the first broken entry (exit 3)
    Verify,
}

/// Runs `audit`.
pub async fn audit(
    client: &mut AgencyClient<Channel>,
    a: AuditArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    match a.action {
        AuditAction::List { since, limit } => audit_list(client, since, limit, format).await,
        AuditAction::Verify => audit_verify(client, format).await,
    }
}

async fn audit_list(
    client: &mut AgencyClient<Channel>,
    since: u64,
    limit: u32,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = client
        .audit_list(pb::AuditListRequest { since, limit })
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => output::json(&serde_json::json!(
            r.entries
                .iter()
                .map(|e| serde_json::json!({
                    "seq": e.seq, "at": time::rfc3339(e.at), "actor": e.actor,
                    "action": e.action, "detail": e.detail, "hash": e.hash,
                }))
                .collect::<Vec<_>>()
        ))?,
        Format::Table => output::table(
            &["seq", "at (UTC)", "actor", "action", "detail"],
            r.entries
                .iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        time::short(e.at),
                        e.actor.clone(),
                        e.action.clone(),
                        e.detail.clone(),
                    ]
                })
                .collect(),
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn audit_verify(
    client: &mut AgencyClient<Channel>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = client
        .audit_verify(pb::AuditVerifyRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => output::json(&serde_json::json!({
            "ok": r.ok, "entries": r.entries,
            "first_broken": (!r.ok).then_some(r.first_broken), "reason": r.reason,
        }))?,
        Format::Table if r.ok => {
            output::line(&format!("audit log intact: {} entries verified", r.entries))?
        }
        Format::Table => output::line(&format!(
            "audit log BROKEN at entry {}: {} ({} entries before it verified)",
            r.first_broken, r.reason, r.entries
        ))?,
    }
    Ok(if r.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// Runs `info`.
pub async fn info(client: &mut AgencyClient<Channel>, format: Format) -> anyhow::Result<ExitCode> {
    let r = client
        .info(pb::InfoRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => output::json(&serde_json::json!({
            "agency": r.agency, "name": r.name, "country": r.country, "version": r.version,
            "signing_public_key": r.signing_public_key, "records": r.records, "feed_head": r.feed_head,
        }))?,
        Format::Table => output::table(
            &["field", "value"],
            vec![
                vec!["agency".into(), r.agency],
                vec!["name".into(), r.name],
                vec!["version".into(), r.version],
                vec!["signing key".into(), r.signing_public_key],
                vec!["records".into(), r.records.to_string()],
                vec!["feed head".into(), r.feed_head.to_string()],
            ],
        )?,
    }
    Ok(ExitCode::SUCCESS)
}
