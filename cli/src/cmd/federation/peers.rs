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
    match format {
        Format::Json => output::json(&json!({
            "federation": r.federation,
            "manifest_version": r.manifest_version,
            "peers": r.peers.iter().map(peer_json).collect::<Vec<_>>(),
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
                r.peers.iter().map(peer_row).collect(),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn when(ms: i64) -> Option<String> {
    (ms != 0).then(|| time::rfc3339(ms))
}

fn peer_json(p: &pb::PeerState) -> serde_json::Value {
    json!({
        "agency": p.agency, "address": p.address, "state": p.state, "last_error": p.last_error,
        "last_success": when(p.last_success),
        "last_inbound": when(p.last_inbound),
        "manifest_version": p.manifest_version,
        "cursor": p.cursor, "received": p.received, "duplicates": p.duplicates,
        "rejected": p.rejected, "sent": p.sent, "last_rejection": p.last_rejection,
        "caught_up_at": when(p.caught_up_at),
        "peer_head": p.peer_head, "lag": p.peer_head.saturating_sub(p.cursor),
        "policy_epoch": p.policy_epoch,
        "verified_at": when(p.verified_at),
        "verify_missing": p.verify_missing, "verify_repaired": p.verify_repaired,
        "verify_peer_lacks": p.verify_peer_lacks, "verify_ranges": p.verify_ranges,
        "verify_error": p.verify_error, "receipts_queued": p.receipts_queued,
        "wire_sent": p.wire_sent, "wire_received": p.wire_received,
        "announced": p.announced, "fetched": p.fetched,
        "limited": p.limited, "last_limit": p.last_limit,
    })
}

fn peer_row(p: &pb::PeerState) -> Vec<String> {
    let mut problems = Vec::new();
    if !p.last_error.is_empty() {
        problems.push(p.last_error.clone());
    }
    if !p.last_rejection.is_empty() {
        problems.push(format!("last rejected: {}", p.last_rejection));
    }
    if p.limited > 0 {
        problems.push(format!(
            "{} calls over its limit, last: {}",
            p.limited, p.last_limit
        ));
    }
    if !p.verify_error.is_empty() {
        problems.push(format!("check failed: {}", p.verify_error));
    }
    if p.receipts_queued > 0 {
        problems.push(format!("{} receipts queued", p.receipts_queued));
    }
    let check = match when(p.verified_at) {
        None => "never".to_string(),
        Some(at) => format!(
            "{at}: {} missing, {} fetched, {} they lack",
            p.verify_missing, p.verify_repaired, p.verify_peer_lacks
        ),
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
        when(p.last_success).unwrap_or_else(|| "never".to_string()),
        check,
        problems.join("; "),
    ]
}
