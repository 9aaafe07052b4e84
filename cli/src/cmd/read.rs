//! `wildnet get`, `query`, `stats`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::Value;
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, json, output, time};

/// Flags of `wildnet get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Record id or a unique prefix of 8+ hex characters
    pub id: String,
}

/// Runs `get`.
pub async fn get(
    client: &mut AgencyClient<Channel>,
    a: GetArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = client
        .get(pb::GetRequest { id: a.id })
        .await
        .map_err(explain)?
        .into_inner();
    let rec = r.record.as_ref().context("the node returned no record")?;
    let mut view = json::record_view(rec)?;
    let versions = versions(&r.history, &rec.id);
    // On the author's node: who holds it, by signed receipt. For a
    // retraction, who applied it (deleted the target).
    let holders: Vec<Value> = r
        .holders
        .iter()
        .map(|h| serde_json::json!({ "agency": h.agency, "at": time::rfc3339(h.at) }))
        .collect();
    let is_retraction = view.get("kind").and_then(Value::as_str) == Some("retraction");
    if let Value::Object(m) = &mut view {
        m.insert("versions".into(), Value::Array(versions.clone()));
        m.insert("holders".into(), Value::Array(holders.clone()));
        m.insert("correlations".into(), Value::from(r.correlations));
    }
    match format {
        Format::Json => output::json(&view)?,
        Format::Table => {
            let Value::Object(m) = &view else {
                return Ok(ExitCode::FAILURE);
            };
            print_fields(m)?;
            print_versions(&versions)?;
            print_holders(&holders, is_retraction)?;
            if r.correlations > 0 {
                output::line(&format!(
                    "shares a selector with {} other record(s): wildnet correlate {}",
                    r.correlations,
                    rec.id.get(..12).unwrap_or(&rec.id)
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every version, oldest first, with its time and which one this is.
fn versions(history: &[pb::StoredRecord], current: &str) -> Vec<Value> {
    history
        .iter()
        .map(|h| {
            let created = h
                .signed
                .as_ref()
                .and_then(|s| <pb::RecordBody as prost::Message>::decode(s.body.as_slice()).ok())
                .map(|b| time::rfc3339(b.created_at))
                .unwrap_or_default();
            serde_json::json!({ "id": h.id, "created_at": created, "current": h.id == current })
        })
        .collect()
}

fn print_fields(m: &serde_json::Map<String, Value>) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for (k, v) in m {
        if k == "versions" || k == "holders" || k == "correlations" {
            continue;
        }
        let shown = if k == "handling" {
            output::handling(Some(v))
        } else {
            output::cell(Some(v))
        };
        if !shown.is_empty() {
            rows.push(vec![k.clone(), shown]);
        }
    }
    output::table(&["field", "value"], rows)
}

fn print_versions(versions: &[Value]) -> anyhow::Result<()> {
    if versions.len() <= 1 {
        return Ok(());
    }
    output::line("versions (oldest first):")?;
    for v in versions {
        let mark = if v["current"] == Value::Bool(true) {
            "*"
        } else {
            " "
        };
        output::line(&format!(
            " {mark} {} {}",
            output::cell(v.get("id")),
            output::cell(v.get("created_at"))
        ))?;
    }
    Ok(())
}

fn print_holders(holders: &[Value], is_retraction: bool) -> anyhow::Result<()> {
    if holders.is_empty() {
        return Ok(());
    }
    output::line(if is_retraction {
        "deletion confirmed by (signed receipts):"
    } else {
        "held by (signed receipts):"
    })?;
    for h in holders {
        output::line(&format!(
            "   {} since {}",
            output::cell(h.get("agency")),
            output::cell(h.get("at"))
        ))?;
    }
    Ok(())
}

/// The filters of `wildnet query` and `wildnet export`.
#[derive(Debug, Args)]
pub struct QueryFilters {
    /// listing, entity, seizure, note, operation_proposal, operation_response, operation_update, retraction
    #[arg(long)]
    pub kind: Option<String>,
    /// Species, scientific or common name
    #[arg(long)]
    pub species: Option<String>,
    /// CITES appendix: I, II or III
    #[arg(long)]
    pub appendix: Option<String>,
    /// Country (ISO 3166 alpha-2)
    #[arg(long)]
    pub country: Option<String>,
    /// Platform
    #[arg(long)]
    pub platform: Option<String>,
    /// Seller handle
    #[arg(long)]
    pub seller: Option<String>,
    /// Selector kind:value, e.g. phone:+254712345678
    #[arg(long)]
    pub selector: Option<String>,
    /// Author agency
    #[arg(long)]
    pub author: Option<String>,
    /// Tag
    #[arg(long)]
    pub tag: Option<String>,
    /// Handling code: h0, h1, h2 or h3
    #[arg(long)]
    pub code: Option<String>,
    /// Words that must all appear in the text fields
    #[arg(long)]
    pub text: Option<String>,
    /// Created at or after (YYYY-MM-DD or RFC 3339)
    #[arg(long)]
    pub since: Option<String>,
    /// Created before (YYYY-MM-DD or RFC 3339)
    #[arg(long)]
    pub until: Option<String>,
}

impl QueryFilters {
    /// The request these filters ask (no limit, no page yet).
    pub fn request(&self, history: bool) -> anyhow::Result<pb::QueryRequest> {
        let o = |s: &Option<String>| s.clone().unwrap_or_default();
        let t = |s: &Option<String>, flag: &str| -> anyhow::Result<i64> {
            s.as_deref()
                .map(time::parse)
                .transpose()
                .with_context(|| flag.to_string())
                .map(|v| v.unwrap_or(0))
        };
        Ok(pb::QueryRequest {
            kind: o(&self.kind),
            species: o(&self.species),
            appendix: o(&self.appendix),
            country: o(&self.country),
            platform: o(&self.platform),
            seller: o(&self.seller),
            selector: o(&self.selector),
            author: o(&self.author),
            tag: o(&self.tag),
            text: o(&self.text),
            since: t(&self.since, "--since")?,
            until: t(&self.until, "--until")?,
            limit: 0,
            page_token: String::new(),
            history,
            code: o(&self.code),
            verify: false,
        })
    }
}

/// Flags of `wildnet query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// What to look for
    #[command(flatten)]
    pub filters: QueryFilters,
    /// Most records to show
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Include superseded versions
    #[arg(long)]
    pub history: bool,
    /// Re-check every record's signature (each was verified when stored;
    /// without this the page says "verified at ingest")
    #[arg(long)]
    pub verify: bool,
}

/// Every stored record the request matches, up to `limit`, newest first,
/// following the node's pages.
pub async fn fetch_all(
    client: &mut AgencyClient<Channel>,
    mut req: pb::QueryRequest,
    limit: usize,
) -> anyhow::Result<Vec<pb::StoredRecord>> {
    let mut records = Vec::new();
    loop {
        req.limit = (limit - records.len()).min(1000) as u32;
        if req.limit == 0 {
            break;
        }
        let page = client
            .query(req.clone())
            .await
            .map_err(explain)?
            .into_inner();
        records.extend(page.records);
        if page.next_page_token.is_empty() {
            break;
        }
        req.page_token = page.next_page_token;
    }
    Ok(records)
}

/// One record of a query as a table row.
fn record_row(v: &Value) -> Vec<String> {
    let id = output::cell(v.get("id"));
    vec![
        id.get(..12).unwrap_or(&id).to_string(),
        output::cell(v.get("created_at"))
            .get(..16)
            .unwrap_or("")
            .replace('T', " "),
        output::cell(v.get("kind")),
        output::cell(v.get("author")),
        output::cell(v.get("species").or(v.get("names"))),
        output::cell(v.get("country")),
        output::handling(v.get("handling")),
        output::summary(v),
    ]
}

/// Runs `query`, following pages until `--limit` records.
pub async fn query(
    client: &mut AgencyClient<Channel>,
    a: QueryArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let mut req = a.filters.request(a.history)?;
    req.verify = a.verify;
    let stored = fetch_all(client, req, a.limit as usize).await?;
    let broken: Vec<String> = stored
        .iter()
        .filter(|r| a.verify && r.signature != "valid")
        .map(|r| format!("{}: {}", r.id, r.signature))
        .collect();
    let records = stored
        .iter()
        .map(json::record_view)
        .collect::<anyhow::Result<Vec<_>>>()?;
    match format {
        Format::Json => output::json(&Value::Array(records))?,
        Format::Table => {
            let rows = records.iter().map(record_row).collect();
            output::table(
                &[
                    "id",
                    "created (UTC)",
                    "kind",
                    "author",
                    "species",
                    "country",
                    "handling",
                    "summary",
                ],
                rows,
            )?;
            eprintln!("{} record(s)", records.len());
        }
    }
    if broken.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{} record(s) fail signature verification (the stored bytes changed since they were \
         verified): restore the data dir from backup, or fetch them again from a peer",
        broken.len()
    );
    for b in &broken {
        eprintln!("  {b}");
    }
    Ok(ExitCode::from(3))
}

/// Flags of `wildnet stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Group by species, country, platform, author, kind, appendix, tag, seller or code
    #[arg(long)]
    pub by: Option<String>,
}

/// Runs `stats`.
pub async fn stats(
    client: &mut AgencyClient<Channel>,
    a: StatsArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = client
        .stats(pb::StatsRequest {
            by: a.by.clone().unwrap_or_default(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => output::json(&serde_json::json!({
            "records": r.records,
            "tombstones": r.tombstones,
            "by": a.by,
            "buckets": r.buckets.iter().map(|b| serde_json::json!({"key": b.key, "count": b.count})).collect::<Vec<_>>(),
        }))?,
        Format::Table => {
            output::line(&format!(
                "{} records, {} retracted",
                r.records, r.tombstones
            ))?;
            if let Some(by) = &a.by {
                let rows = r
                    .buckets
                    .iter()
                    .map(|b| vec![b.key.clone(), b.count.to_string()])
                    .collect();
                output::table(&[by.as_str(), "records"], rows)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
