//! `wildnet correlate`: the records that share a selector with a record
//! or hold a value, and the most-connected values.

use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, json as records, output};

/// Flags of `wildnet correlate`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["id", "selector", "top"])))]
pub struct CorrelateArgs {
    /// A record id (or unique prefix): every record that shares one of its
    /// selectors
    pub id: Option<String>,
    /// One selector instead, KIND:VALUE (e.g. phone:0712 345678, read in
    /// this node's country)
    #[arg(long, value_name = "KIND:VALUE")]
    pub selector: Option<String>,
    /// The values held by the most records (to spot junk to warninglist)
    #[arg(long)]
    pub top: bool,
    /// With --top: how many values
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Also list the records of over-correlating and warninglisted values
    #[arg(long)]
    pub all: bool,
}

/// Runs `correlate`.
pub async fn run(
    client: &mut AgencyClient<Channel>,
    a: CorrelateArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = client
        .correlate(pb::CorrelateRequest {
            id: a.id.unwrap_or_default(),
            selector: a.selector.unwrap_or_default(),
            top: a.top,
            all: a.all,
            limit: a.limit,
        })
        .await
        .map_err(explain)?
        .into_inner();
    let view = view(&r)?;
    match format {
        Format::Json => output::json(&view)?,
        Format::Table if a.top => print_top(&r)?,
        Format::Table => print_links(&view, &r)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON document: per selector, its holders and the linked records.
fn view(r: &pb::CorrelateResponse) -> anyhow::Result<Value> {
    let mut selectors = Vec::new();
    for s in &r.selectors {
        let linked: Vec<Value> = s
            .records
            .iter()
            .map(|x| {
                records::record_view(x).map(|v| {
                    json!({
                        "id": v["id"], "author": v["author"], "kind": v["kind"],
                        "created_at": v["created_at"], "summary": output::summary(&v),
                    })
                })
            })
            .collect::<anyhow::Result<_>>()?;
        selectors.push(json!({
            "selector": s.selector, "holders": s.holders, "more": s.more,
            "suppressed": s.suppressed, "records": linked,
        }));
    }
    let top: Vec<Value> = r
        .top
        .iter()
        .map(
            |t| json!({ "selector": t.selector, "records": t.entries, "suppressed": t.suppressed }),
        )
        .collect();
    let mut v = json!({ "correlation_limit": r.correlation_limit, "selectors": selectors });
    if !r.id.is_empty() {
        v["id"] = Value::from(r.id.clone());
    }
    if !top.is_empty() {
        v["top"] = Value::Array(top);
    }
    if !r.reindex.is_empty() {
        v["reindex"] = Value::from(r.reindex.clone());
    }
    Ok(v)
}

fn print_links(v: &Value, r: &pb::CorrelateResponse) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut left_out = Vec::new();
    for s in v["selectors"].as_array().into_iter().flatten() {
        let sel = output::cell(s.get("selector"));
        let why = output::cell(s.get("suppressed"));
        if !why.is_empty() {
            let more = if s["more"] == Value::Bool(true) {
                "+"
            } else {
                ""
            };
            left_out.push(format!("   {sel}: {why} ({}{more} records)", s["holders"]));
        }
        for x in s["records"].as_array().into_iter().flatten() {
            rows.push(vec![
                sel.clone(),
                output::cell(x.get("author")),
                output::cell(x.get("kind")),
                output::cell(x.get("id")).chars().take(12).collect(),
                output::cell(x.get("created_at")),
                output::cell(x.get("summary")),
            ]);
        }
    }
    if rows.is_empty() {
        output::line("no other record shares a selector")?;
    } else {
        output::table(
            &[
                "shared selector",
                "author",
                "kind",
                "id",
                "created",
                "summary",
            ],
            rows,
        )?;
    }
    if !left_out.is_empty() {
        output::line("left out (--all lists them):")?;
        for l in left_out {
            output::line(&l)?;
        }
    }
    if !r.reindex.is_empty() {
        output::line(&format!(
            "note: selectors are being re-indexed after a normaliser upgrade ({} rows); older records may be missing",
            r.reindex
        ))?;
    }
    Ok(())
}

fn print_top(r: &pb::CorrelateResponse) -> anyhow::Result<()> {
    let rows = r
        .top
        .iter()
        .map(|t| {
            vec![
                t.selector.clone(),
                t.entries.to_string(),
                t.suppressed.clone(),
            ]
        })
        .collect();
    output::table(&["selector", "records", "left out"], rows)?;
    output::line(&format!(
        "over-correlating above {} records ([correlation] limit)",
        r.correlation_limit
    ))
}
