//! `wildnet alerts` and `wildnet watch`: the node's local alerts (a stored
//! record shares a selector with another agency's record, where one of
//! the two is ours, or holds a watched value) and the watchlist.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, output, time};

/// Flags of `wildnet alerts`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AlertsArgs {
    /// Acknowledge an alert
    #[command(subcommand)]
    pub action: Option<AlertAction>,
    /// Only alerts not acknowledged yet
    #[arg(long)]
    pub unacked: bool,
    /// Keep printing new alerts as they are raised (Ctrl-C stops)
    #[arg(long)]
    pub follow: bool,
    /// Only alerts numbered above this
    #[arg(long, default_value_t = 0)]
    pub after: u64,
}

/// `wildnet alerts ack`.
#[derive(Debug, Subcommand)]
pub enum AlertAction {
    /// Mark an alert seen
    Ack {
        /// The alert number
        id: u64,
        /// Why, or what was done
        #[arg(long)]
        note: Option<String>,
    },
}

/// Flags of `wildnet watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(subcommand)]
    pub action: WatchAction,
}

/// `wildnet watch add|rm|list`.
#[derive(Debug, Subcommand)]
pub enum WatchAction {
    /// Watch a value: any record that holds it raises an alert
    Add {
        /// KIND:VALUE, e.g. phone:0712 345678 (this node's country)
        selector: String,
        /// Why it is watched (shown with its alerts)
        #[arg(long)]
        note: Option<String>,
    },
    /// Stop watching a value
    Rm {
        /// KIND:VALUE
        selector: String,
    },
    /// The watched values
    List,
}

fn alert_view(a: &pb::Alert) -> Value {
    let matches: Vec<Value> = a
        .matches
        .iter()
        .map(|m| json!({"id": m.id, "author": m.author, "kind": m.kind, "created_at": time::rfc3339(m.created_at)}))
        .collect();
    let mut v = json!({
        "id": a.id, "raised_at": time::rfc3339(a.raised_at), "record": a.record,
        "author": a.author, "kind": a.kind, "selector": a.selector, "reason": a.reason,
        "matches": matches, "acked": a.acked,
    });
    if !a.received_from.is_empty() {
        v["received_from"] = Value::from(a.received_from.clone());
    }
    if !a.watch_note.is_empty() {
        v["watch_note"] = Value::from(a.watch_note.clone());
    }
    if a.acked {
        v["acked_at"] = Value::from(time::rfc3339(a.acked_at));
        v["acked_by"] = Value::from(a.acked_by.clone());
        v["ack_note"] = Value::from(a.ack_note.clone());
    }
    v
}

fn alert_row(a: &pb::Alert) -> Vec<String> {
    let with = if a.reason == "watchlist" {
        format!("watched: {}", a.watch_note)
    } else {
        a.matches
            .iter()
            .map(|m| {
                format!(
                    "{} {} {}",
                    m.author,
                    m.kind,
                    m.id.get(..12).unwrap_or(&m.id)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let from = if a.received_from.is_empty() {
        "published here".to_string()
    } else {
        format!("from {}", a.received_from)
    };
    vec![
        a.id.to_string(),
        time::rfc3339(a.raised_at),
        a.selector.clone(),
        format!(
            "{} {} {} ({from})",
            a.author,
            a.kind,
            a.record.get(..12).unwrap_or(&a.record)
        ),
        with,
        if a.acked {
            "acked".into()
        } else {
            String::new()
        },
    ]
}

const HEADER: [&str; 6] = ["#", "raised", "selector", "record", "shares it with", ""];

/// Runs `alerts`.
pub async fn run(
    client: &mut AgencyClient<Channel>,
    a: AlertsArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    if let Some(AlertAction::Ack { id, note }) = a.action {
        let r = client
            .ack_alert(pb::AckAlertRequest {
                id,
                note: note.unwrap_or_default(),
            })
            .await
            .map_err(explain)?
            .into_inner();
        match format {
            Format::Json => output::json(&alert_view(&r))?,
            Format::Table => output::line(&format!("alert {} acknowledged", r.id))?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.follow {
        return follow(client, &a, format).await;
    }
    let r = client
        .list_alerts(pb::ListAlertsRequest {
            unacked: a.unacked,
            after: a.after,
            limit: 0,
        })
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => output::json(&Value::Array(r.alerts.iter().map(alert_view).collect()))?,
        Format::Table if r.alerts.is_empty() => output::line("no alerts")?,
        Format::Table => output::table(&HEADER, r.alerts.iter().map(alert_row).collect())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `alerts --follow`: one line (or JSON object) per alert, as raised.
async fn follow(
    client: &mut AgencyClient<Channel>,
    a: &AlertsArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let mut stream = client
        .subscribe_alerts(pb::SubscribeAlertsRequest {
            after: a.after,
            unacked: a.unacked,
        })
        .await
        .map_err(explain)?
        .into_inner();
    while let Some(alert) = stream.message().await.map_err(explain)? {
        match format {
            Format::Json => output::line(&alert_view(&alert).to_string())?,
            Format::Table => output::line(&alert_row(&alert).join("  "))?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `watch`.
pub async fn watch(
    client: &mut AgencyClient<Channel>,
    a: WatchArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = match a.action {
        WatchAction::Add { selector, note } => {
            client
                .watch_add(pb::WatchRequest {
                    selector,
                    note: note.unwrap_or_default(),
                })
                .await
        }
        WatchAction::Rm { selector } => {
            client
                .watch_remove(pb::WatchRequest {
                    selector,
                    note: String::new(),
                })
                .await
        }
        WatchAction::List => client.watch_list(pb::WatchListRequest {}).await,
    }
    .map_err(explain)?
    .into_inner();
    let rows: Vec<Value> = r
        .entries
        .iter()
        .map(|e| json!({"selector": e.selector, "note": e.note, "added_at": time::rfc3339(e.added_at), "added_by": e.added_by}))
        .collect();
    match format {
        Format::Json => output::json(&json!({"entries": rows, "held": r.held}))?,
        Format::Table => {
            let t = rows
                .iter()
                .map(|v| {
                    ["selector", "note", "added_at", "added_by"]
                        .map(|k| output::cell(v.get(k)))
                        .to_vec()
                })
                .collect();
            output::table(&["selector", "note", "since", "by"], t)?;
            if r.held > 0 {
                output::line(&format!(
                    "{} record(s) hold it already: wildnet correlate --selector {}",
                    r.held,
                    r.entries.first().map(|e| e.selector.as_str()).unwrap_or("")
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
