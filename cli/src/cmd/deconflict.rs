//! `wildnet deconflict`: asks peers whether they hold selectors without
//! telling them which (hit/no-hit through an oblivious PRF), then follows
//! up on the hits for the contact point, a reference and the records this
//! agency may hold.

use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, output};

/// Flags of `wildnet deconflict`.
#[derive(Debug, Args)]
pub struct DeconflictArgs {
    /// A selector to ask about, KIND:VALUE (repeatable; national phone
    /// formats are read in this node's country)
    #[arg(
        long = "selector",
        value_name = "KIND:VALUE",
        required_unless_present = "open"
    )]
    pub selectors: Vec<String>,
    /// Ask only this peer (repeatable; default: every peer)
    #[arg(long = "peer", value_name = "AGENCY")]
    pub peers: Vec<String>,
    /// Seconds to wait for each peer (default: [deconfliction] deadline_secs)
    #[arg(long)]
    pub deadline: Option<u32>,
    /// List the answers kept from earlier hits, open follow-ups included
    #[arg(long, conflicts_with = "selectors")]
    pub open: bool,
}

/// One answer as JSON (also on operation boards).
pub(crate) fn view(a: &pb::DeconflictAnswer) -> Value {
    json!({
        "selector": a.selector, "peer": a.peer, "outcome": a.outcome, "detail": a.detail,
        "contact": a.contact, "reference": a.reference, "records": a.records,
        "follow_up_open": a.follow_up_open,
    })
}

/// Runs `deconflict`.
pub async fn run(
    client: &mut AgencyClient<Channel>,
    a: DeconflictArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = client
        .deconflict(pb::DeconflictRequest {
            selectors: if a.open { Vec::new() } else { a.selectors },
            peers: a.peers,
            deadline_secs: a.deadline.unwrap_or(0),
        })
        .await
        .map_err(explain)?
        .into_inner();
    let answers: Vec<&pb::DeconflictAnswer> = r
        .answers
        .iter()
        .filter(|x| !a.open || x.follow_up_open || x.outcome == "HIT")
        .collect();
    match format {
        Format::Json => output::json(&Value::Array(answers.iter().map(|x| view(x)).collect()))?,
        Format::Table => {
            let rows = answers
                .iter()
                .map(|x| {
                    let what = if x.outcome == "HIT" && !x.follow_up_open {
                        let ids: Vec<&str> =
                            x.records.iter().map(|i| i.get(..12).unwrap_or(i)).collect();
                        format!(
                            "{} — ref {} — records you may hold: {}",
                            x.contact,
                            x.reference,
                            if ids.is_empty() {
                                "none".to_string()
                            } else {
                                ids.join(", ")
                            }
                        )
                    } else {
                        x.detail.clone()
                    };
                    vec![x.selector.clone(), x.peer.clone(), x.outcome.clone(), what]
                })
                .collect();
            output::table(&["selector", "peer", "answer", "contact / why"], rows)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
