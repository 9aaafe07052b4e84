//! `wildnet export`: the records a query matches, in a format other tools
//! read: JSONL (wildnet's own, re-importable), CSV (listings, in the import
//! columns), a STIX 2.1 bundle, the CITES annual illegal-trade report's
//! seizure rows, or Ecomessage-shaped seizure reports.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use prost::Message;
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::cmd::read::{QueryFilters, fetch_all};
use crate::explain;
use crate::interop::{self, Agencies, Exported, Skipped};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One record per line, as `get --format json` prints it; `import` reads it back.
    Jsonl,
    /// Listings in the columns `import` reads.
    Csv,
    /// A STIX 2.1 bundle (MISP, OpenCTI, TAXII clients).
    Stix,
    /// The seizure table of the CITES annual illegal-trade report.
    CitesAitr,
    /// Ecomessage-shaped seizure reports, as one JSON array.
    Ecomessage,
}

/// Flags of `wildnet export` (the format is the global `--format`).
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Which records
    #[command(flatten)]
    pub filters: QueryFilters,
    /// Most records to export [default: all]
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write here instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Ecomessage and CITES report: include the names and nationalities of
    /// the seizure's linked persons (nominal data); left out by default
    #[arg(long)]
    pub nominal: bool,
}

/// Runs `export`.
pub async fn run(
    client: &mut AgencyClient<Channel>,
    a: ExportArgs,
    format: ExportFormat,
) -> anyhow::Result<ExitCode> {
    let mut req = a.filters.request(false)?;
    if matches!(format, ExportFormat::CitesAitr | ExportFormat::Ecomessage) && req.kind.is_empty() {
        req.kind = "seizure".into();
    }
    let stored = fetch_all(client, req, a.limit.unwrap_or(usize::MAX)).await?;
    let records = stored
        .iter()
        .map(Exported::from_stored)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let agencies = agencies(client).await?;
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let skipped = match format {
        ExportFormat::Jsonl => jsonl(&mut out, &records)?,
        ExportFormat::Csv => csv_rows(&mut out, &records)?,
        ExportFormat::Stix => {
            let (bundle, skipped) = interop::stix::bundle(&records, &agencies);
            serde_json::to_writer_pretty(&mut out, &bundle)?;
            writeln!(out)?;
            skipped
        }
        ExportFormat::CitesAitr | ExportFormat::Ecomessage => {
            let linked = linked_entities(client, &records).await?;
            seizures(&mut out, format, &records, &agencies, &linked, a.nominal)?
        }
    };
    out.flush()?;
    drop(out);
    report(&a, records.len(), &skipped)
}

/// What was written, on stderr so stdout stays the data.
fn report(a: &ExportArgs, matched: usize, skipped: &[Skipped]) -> anyhow::Result<ExitCode> {
    let to = a
        .output
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "stdout".into());
    eprintln!(
        "exported {} of {matched} matching record(s) to {to}",
        matched - skipped.len()
    );
    let mut reasons: HashMap<&str, usize> = HashMap::new();
    for s in skipped {
        *reasons.entry(s.reason.as_str()).or_default() += 1;
    }
    for (reason, n) in reasons {
        eprintln!("  {n} left out: {reason}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The manifest's agencies, for names and contacts (none on a node that
/// has not joined a federation: agencies are then named by id only).
async fn agencies(client: &mut AgencyClient<Channel>) -> anyhow::Result<Agencies> {
    let m = match client.get_manifest(pb::GetManifestRequest {}).await {
        Ok(m) => m.into_inner(),
        Err(s) if s.code() == tonic::Code::FailedPrecondition => return Ok(Agencies::new()),
        Err(s) => return Err(explain(s)),
    };
    let body =
        pb::ManifestBody::decode(m.body.as_slice()).context("the manifest does not decode")?;
    Ok(body
        .agencies
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect())
}

/// The entity records this node holds for the seizures' offenders.
async fn linked_entities(
    client: &mut AgencyClient<Channel>,
    records: &[Exported],
) -> anyhow::Result<HashMap<String, Exported>> {
    let mut out = HashMap::new();
    for id in records
        .iter()
        .filter_map(Exported::seizure)
        .flat_map(|s| s.entities.iter())
    {
        if out.contains_key(id) {
            continue;
        }
        match client.get(pb::GetRequest { id: id.clone() }).await {
            Ok(r) => {
                if let Some(rec) = r.into_inner().record {
                    out.insert(id.clone(), Exported::from_stored(&rec)?);
                }
            }
            Err(s) if s.code() == tonic::Code::NotFound => {}
            Err(s) => return Err(explain(s)),
        }
    }
    Ok(out)
}

fn jsonl(out: &mut dyn Write, records: &[Exported]) -> anyhow::Result<Vec<Skipped>> {
    for r in records {
        serde_json::to_writer(&mut *out, &r.view)?;
        writeln!(out)?;
    }
    Ok(Vec::new())
}

fn csv_rows(out: &mut dyn Write, records: &[Exported]) -> anyhow::Result<Vec<Skipped>> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(crate::draft::CSV_COLUMNS)?;
    let mut skipped = Vec::new();
    for r in records {
        match crate::draft::listing_row(&r.body) {
            Some(row) => w.write_record(row)?,
            None => skipped.push(Skipped {
                id: r.id.clone(),
                reason: "CSV carries listings only: use --format jsonl for every kind".into(),
            }),
        }
    }
    w.flush()?;
    Ok(skipped)
}

fn seizures(
    out: &mut dyn Write,
    format: ExportFormat,
    records: &[Exported],
    agencies: &Agencies,
    linked: &HashMap<String, Exported>,
    nominal: bool,
) -> anyhow::Result<Vec<Skipped>> {
    let skipped: Vec<Skipped> = records
        .iter()
        .filter(|r| r.seizure().is_none())
        .map(|r| Skipped {
            id: r.id.clone(),
            reason: "not a seizure: these reports carry seizures only".into(),
        })
        .collect();
    let held: Vec<(&Exported, &pb::Seizure)> = records
        .iter()
        .filter_map(|r| r.seizure().map(|s| (r, s)))
        .collect();
    if format == ExportFormat::CitesAitr {
        interop::cites::write(out, &held, linked)?;
    } else {
        let messages: Vec<serde_json::Value> = held
            .iter()
            .map(|(r, s)| interop::ecomessage::message(r, s, agencies, linked, nominal))
            .collect();
        serde_json::to_writer_pretty(&mut *out, &messages)?;
        writeln!(out)?;
    }
    Ok(skipped)
}
