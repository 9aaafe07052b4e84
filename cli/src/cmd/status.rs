//! `wildnet status`: one screen of what an operator checks — who the node
//! is, what it holds, its peers, the last rejections, open follow-ups and
//! unacknowledged alerts — and an exit code for scripts and monitoring:
//! 0 when nothing needs attention, 4 when something does.

use std::process::ExitCode;

use serde_json::json;
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, output, time};

/// Exit code of a status that needs attention.
pub const ATTENTION: u8 = 4;

/// What `status` gathered.
struct Gathered {
    info: pb::InfoResponse,
    kinds: Vec<pb::StatsBucket>,
    peers: Option<pb::PeersResponse>,
    alerts: Vec<pb::Alert>,
    open_follow_ups: Vec<pb::DeconflictAnswer>,
    audit: pb::AuditVerifyResponse,
}

async fn gather(c: &mut AgencyClient<Channel>) -> anyhow::Result<Gathered> {
    let info = c
        .info(pb::InfoRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    let kinds = c
        .stats(pb::StatsRequest { by: "kind".into() })
        .await
        .map_err(explain)?
        .into_inner()
        .buckets;
    let peers = match c.peers(pb::PeersRequest {}).await {
        Ok(r) => Some(r.into_inner()),
        Err(s) if s.code() == tonic::Code::FailedPrecondition => None,
        Err(s) => return Err(explain(s)),
    };
    let alerts = c
        .list_alerts(pb::ListAlertsRequest {
            unacked: true,
            ..Default::default()
        })
        .await
        .map_err(explain)?
        .into_inner()
        .alerts;
    let open_follow_ups = match &peers {
        None => Vec::new(),
        Some(_) => c
            .deconflict(pb::DeconflictRequest::default())
            .await
            .map_err(explain)?
            .into_inner()
            .answers
            .into_iter()
            .filter(|a| a.follow_up_open)
            .collect(),
    };
    let audit = c
        .audit_verify(pb::AuditVerifyRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    Ok(Gathered {
        info,
        kinds,
        peers,
        alerts,
        open_follow_ups,
        audit,
    })
}

/// What needs an operator: peers not authenticated or whose completeness
/// check failed, unacknowledged alerts, a broken audit chain.
fn attention(g: &Gathered) -> Vec<String> {
    let mut out = Vec::new();
    for p in g.peers.iter().flat_map(|r| &r.peers) {
        if p.state != "authenticated" {
            out.push(format!(
                "peer {} is {}: {}",
                p.agency, p.state, p.last_error
            ));
        }
        if !p.verify_error.is_empty() {
            out.push(format!(
                "the completeness check with {} failed: {}",
                p.agency, p.verify_error
            ));
        }
    }
    if !g.alerts.is_empty() {
        out.push(format!(
            "{} alerts not acknowledged (`wildnet alerts`)",
            g.alerts.len()
        ));
    }
    if !g.audit.ok {
        out.push(format!(
            "the audit chain is broken at entry {}: {}",
            g.audit.first_broken, g.audit.reason
        ));
    }
    out
}

/// Runs `status`.
pub async fn run(c: &mut AgencyClient<Channel>, format: Format) -> anyhow::Result<ExitCode> {
    let g = gather(c).await?;
    let needs = attention(&g);
    match format {
        Format::Json => output::json(&to_json(&g, &needs))?,
        Format::Table => print(&g, &needs)?,
    }
    Ok(if needs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(ATTENTION)
    })
}

fn to_json(g: &Gathered, needs: &[String]) -> serde_json::Value {
    let peers: Vec<serde_json::Value> = g
        .peers
        .iter()
        .flat_map(|r| &r.peers)
        .map(|p| {
            json!({
                "agency": p.agency, "state": p.state, "lag": p.peer_head.saturating_sub(p.cursor),
                "last_error": p.last_error, "rejected": p.rejected,
                "last_rejection": p.last_rejection, "limited": p.limited,
            })
        })
        .collect();
    json!({
        "agency": g.info.agency, "name": g.info.name, "version": g.info.version,
        "manifest_version": g.peers.as_ref().map(|p| p.manifest_version),
        "records": g.info.records, "tombstones": g.info.tombstones,
        "by_kind": g.kinds.iter().map(|b| (b.key.clone(), json!(b.count))).collect::<serde_json::Map<_, _>>(),
        "disk_bytes": g.info.disk_bytes,
        "peers": peers,
        "alerts_unacknowledged": g.alerts.len(),
        "follow_ups_open": g.open_follow_ups.iter().map(|a| json!({"selector": a.selector, "peer": a.peer})).collect::<Vec<_>>(),
        "audit_ok": g.audit.ok, "audit_entries": g.audit.entries,
        "attention": needs,
    })
}

fn print(g: &Gathered, needs: &[String]) -> anyhow::Result<()> {
    let i = &g.info;
    let manifest = g
        .peers
        .as_ref()
        .map_or("not in a federation".to_string(), |p| {
            format!(
                "federation {:?}, manifest version {}",
                p.federation, p.manifest_version
            )
        });
    output::line(&format!(
        "{} ({}), wildnet {} — {manifest}",
        i.agency, i.name, i.version
    ))?;
    let kinds: Vec<String> = g
        .kinds
        .iter()
        .map(|b| format!("{} {}", b.count, b.key))
        .collect();
    output::line(&format!(
        "records: {} ({}), {} tombstones, {:.1} MB on disk",
        i.records,
        if kinds.is_empty() {
            "none".into()
        } else {
            kinds.join(", ")
        },
        i.tombstones,
        i.disk_bytes as f64 / 1e6
    ))?;
    if let Some(r) = &g.peers {
        let rows = r
            .peers
            .iter()
            .map(|p| {
                vec![
                    p.agency.clone(),
                    p.state.clone(),
                    p.peer_head.saturating_sub(p.cursor).to_string(),
                    if p.last_success == 0 {
                        "never".into()
                    } else {
                        time::short(p.last_success)
                    },
                    p.last_error.clone(),
                    p.last_rejection.clone(),
                ]
            })
            .collect();
        output::table(
            &[
                "peer",
                "state",
                "lag",
                "last success",
                "last error",
                "last rejection",
            ],
            rows,
        )?;
    }
    output::line(&format!(
        "alerts not acknowledged: {}; deconfliction follow-ups open: {}; audit chain: {} ({} entries)",
        g.alerts.len(),
        g.open_follow_ups.len(),
        if g.audit.ok { "verifies" } else { "BROKEN" },
        g.audit.entries
    ))?;
    if needs.is_empty() {
        output::line("nothing needs attention")?;
    }
    for n in needs {
        output::line(&format!("needs attention: {n}"))?;
    }
    Ok(())
}
