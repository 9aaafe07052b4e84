//! Ingest at KE-KWS (import, concurrent publishes) and queries at the
//! stored size.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use wildnet_proto::v1 as pb;
use wildnet_testbed::Node;

use super::limits::Limits;
use super::report::{Report, ms, p50_p99};
use super::{KE, Plan, ZA, note};

/// Imports `plan.records` listings and publishes from concurrent clients;
/// returns how many records KE then holds.
pub(super) async fn measure(
    plan: &Plan,
    root: &Path,
    ke: &mut Node,
    bar: &ProgressBar,
    r: &mut Report,
    limits: &Limits,
) -> anyhow::Result<u64> {
    ke.start_process()?;
    import(plan, root, ke, bar, r, limits).await?;
    let published = publishes(plan, ke, bar, r, limits).await?;
    Ok(plan.records + published)
}

/// `wildnet import` of generated listings, the same streaming code.
async fn import(
    plan: &Plan,
    root: &Path,
    ke: &Node,
    bar: &ProgressBar,
    r: &mut Report,
    limits: &Limits,
) -> anyhow::Result<()> {
    let mut kec = ke.client().await?;
    bar.set_message(format!("generating {} listings", plan.records));
    let csv = root.join("listings.csv");
    {
        let f = std::fs::File::create(&csv)?;
        crate::cmd::generate::write_listings(
            std::io::BufWriter::new(f),
            plan.records,
            7,
            Some(&format!("agency:{ZA}")),
        )?;
    }
    bar.set_message(format!("import: {} listings into {KE}", plan.records));
    let t = Instant::now();
    let crate::cmd::import::Imported {
        rows,
        summary,
        rejections: rejected,
        ..
    } = crate::cmd::import::import_file(
        &mut kec,
        &csv,
        crate::cmd::import::InputFormat::Csv,
        crate::draft::HandlingArgs::default(),
        crate::cmd::import::MAX_ROW_BYTES,
        &ProgressBar::hidden(),
    )
    .await?;
    let secs = t.elapsed().as_secs_f64();
    if summary.accepted != rows || !rejected.is_empty() {
        bail!(
            "import stored {} of {rows} rows: {:?}",
            summary.accepted,
            rejected.first()
        );
    }
    r.add(
        "ingest",
        "import (durable, batches)",
        rows as f64 / secs,
        "/s",
    )
    .vs("sled raw inserts", limits.raw_inserts)
    .target(">= 20,000/s");
    Ok(())
}

/// Single publishes from concurrent clients; returns how many.
async fn publishes(
    plan: &Plan,
    ke: &Node,
    bar: &ProgressBar,
    r: &mut Report,
    limits: &Limits,
) -> anyhow::Result<u64> {
    bar.set_message(format!(
        "publish: {} single publishes from {} clients",
        plan.publishes, plan.clients
    ));
    let per = plan.publishes / plan.clients;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..plan.clients {
        let mut client = ke.client().await?;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let req = note(c * per + i, &format!("agency:{ZA}"))?;
                let s = Instant::now();
                client.publish(req).await?;
                lat.push(ms(s.elapsed()));
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = t.elapsed().as_secs_f64();
    r.add(
        "ingest",
        format!("publish, {} concurrent clients", plan.clients),
        lat.len() as f64 / secs,
        "/s",
    )
    .vs("sled raw inserts", limits.raw_inserts);
    let (p50, p99) = p50_p99(lat);
    r.add(
        "ingest",
        "publish latency p50 (acknowledged = durable)",
        p50,
        "ms",
    );
    r.add("ingest", "publish latency p99", p99, "ms");
    Ok((per * plan.clients) as u64)
}

/// Query latencies at the stored size.
pub(super) async fn queries(
    plan: &Plan,
    ke: &Node,
    stored: u64,
    bar: &ProgressBar,
    r: &mut Report,
) -> anyhow::Result<()> {
    let mut kec = ke.client().await?;
    bar.set_message(format!("queries at {stored} records"));
    let selector = sample_selector(&mut kec).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let (mut by_species, mut by_selector, mut stats) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.query_samples {
        let t = Instant::now();
        kec.query(pb::QueryRequest {
            species: "Manis javanica".into(),
            since: now - 30 * 86_400_000,
            until: now + 60_000,
            limit: 100,
            ..Default::default()
        })
        .await?;
        by_species.push(ms(t.elapsed()));
        let t = Instant::now();
        kec.query(pb::QueryRequest {
            selector: selector.clone(),
            limit: 100,
            ..Default::default()
        })
        .await?;
        by_selector.push(ms(t.elapsed()));
        let t = Instant::now();
        kec.stats(pb::StatsRequest {
            by: "species".into(),
        })
        .await?;
        stats.push(ms(t.elapsed()));
    }
    for (what, v) in [
        ("first page (100) by species + time range", by_species),
        ("first page (100) by selector", by_selector),
        ("stats by species", stats),
    ] {
        let (p50, p99) = p50_p99(v);
        r.add("query", format!("{what} p50"), p50, "ms");
        r.add("query", format!("{what} p99"), p99, "ms")
            .target("< 10 ms");
    }

    Ok(())
}

/// The first selector of a stored listing, as `kind:value`.
async fn sample_selector(
    kec: &mut wildnet_proto::v1::agency_client::AgencyClient<tonic::transport::Channel>,
) -> anyhow::Result<String> {
    let sample = kec
        .query(pb::QueryRequest {
            kind: "listing".into(),
            limit: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    sample
        .records
        .first()
        .and_then(|s| s.signed.as_ref())
        .and_then(|s| <pb::RecordBody as prost::Message>::decode(s.body.as_slice()).ok())
        .and_then(|b| match b.payload {
            Some(pb::record_body::Payload::Listing(l)) => l.selectors.first().cloned(),
            _ => None,
        })
        .map(|s| {
            format!(
                "{}:{}",
                wildnet_node::record::selector::kind_name(s.kind),
                s.value
            )
        })
        .context("no listing with a selector to query")
}
