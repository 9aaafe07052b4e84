//! `wildnet peers` and `wildnet sync`.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, output, time};

/// Flags of `wildnet sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this peer
    #[arg(long)]
    pub peer: Option<String>,
    /// Return once caught up with the peers
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait at most
    #[arg(long, default_value_t = 30)]
    pub timeout: u32,
    /// Also run the completeness check: reconcile the ids each peer should
    /// have sent with those held here, and fetch what is missing
    #[arg(long)]
    pub verify: bool,
}

/// Runs `sync`.
pub async fn sync(
    client: &mut AgencyClient<Channel>,
    a: SyncArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = client
        .sync(pb::SyncRequest {
            peer: a.peer.unwrap_or_default().to_uppercase(),
            wait: a.wait,
            timeout_secs: a.timeout,
            verify: a.verify,
        })
        .await
        .map_err(explain)?
        .into_inner();
    print_peers(r, format)
}

/// Runs `peers`.
pub async fn peers(client: &mut AgencyClient<Channel>, format: Format) -> anyhow::Result<ExitCode> {
    let r = client
        .peers(pb::PeersRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    print_peers(r, format)
}

fn print_peers(r: pb::PeersResponse, format: Format) -> anyhow::Result<ExitCode> {
    let ago = |ms: i64| {
        if ms == 0 {
            "never".to_string()
        } else {
            time::rfc3339(ms)
        }
    };
    match format {
        Format::Json => output::json(&json!({
            "federation": r.federation,
            "manifest_version": r.manifest_version,
            "peers": r.peers.iter().map(|p| json!({
                "agency": p.agency, "address": p.address, "state": p.state, "last_error": p.last_error,
                "last_success": (p.last_success != 0).then(|| time::rfc3339(p.last_success)),
                "last_inbound": (p.last_inbound != 0).then(|| time::rfc3339(p.last_inbound)),
                "manifest_version": p.manifest_version,
                "cursor": p.cursor, "received": p.received, "duplicates": p.duplicates,
                "rejected": p.rejected, "sent": p.sent, "last_rejection": p.last_rejection,
                "caught_up_at": (p.caught_up_at != 0).then(|| time::rfc3339(p.caught_up_at)),
                "peer_head": p.peer_head, "lag": p.peer_head.saturating_sub(p.cursor),
                "policy_epoch": p.policy_epoch,
                "verified_at": (p.verified_at != 0).then(|| time::rfc3339(p.verified_at)),
                "verify_missing": p.verify_missing, "verify_repaired": p.verify_repaired,
                "verify_peer_lacks": p.verify_peer_lacks, "verify_ranges": p.verify_ranges,
                "verify_error": p.verify_error, "receipts_queued": p.receipts_queued,
                "wire_sent": p.wire_sent, "wire_received": p.wire_received,
            })).collect::<Vec<_>>(),
        }))?,
        Format::Table => {
            output::line(&format!(
                "federation {:?}, manifest version {}",
                r.federation, r.manifest_version
            ))?;
            output::table(
                &[
                    "peer",
                    "address",
                    "state",
                    "cursor",
                    "lag",
                    "received",
                    "dup",
                    "rejected",
                    "sent",
                    "their manifest",
                    "last success",
                    "last check",
                    "problem",
                ],
                r.peers
                    .iter()
                    .map(|p| {
                        let mut problems = Vec::new();
                        if !p.last_error.is_empty() {
                            problems.push(p.last_error.clone());
                        }
                        if !p.last_rejection.is_empty() {
                            problems.push(format!("last rejected: {}", p.last_rejection));
                        }
                        if !p.verify_error.is_empty() {
                            problems.push(format!("check failed: {}", p.verify_error));
                        }
                        if p.receipts_queued > 0 {
                            problems.push(format!("{} receipts queued", p.receipts_queued));
                        }
                        let problem = problems.join("; ");
                        let check = if p.verified_at == 0 {
                            "never".to_string()
                        } else {
                            format!(
                                "{}: {} missing, {} fetched, {} they lack",
                                time::rfc3339(p.verified_at),
                                p.verify_missing,
                                p.verify_repaired,
                                p.verify_peer_lacks
                            )
                        };
                        vec![
                            p.agency.clone(),
                            p.address.clone(),
                            p.state.clone(),
                            p.cursor.to_string(),
                            p.peer_head.saturating_sub(p.cursor).to_string(),
                            p.received.to_string(),
                            p.duplicates.to_string(),
                            p.rejected.to_string(),
                            p.sent.to_string(),
                            p.manifest_version.to_string(),
                            ago(p.last_success),
                            check,
                            problem,
                        ]
                    })
                    .collect(),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
