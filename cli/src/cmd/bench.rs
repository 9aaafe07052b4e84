//! `wildnet bench`: measures a node against this machine's own limits, in
//! one run. It builds a throw-away federation of three agencies in a temp
//! dir (real CA, certificates, manifest), runs real `wildnet-node`
//! processes on loopback with mutual TLS, and reports:
//!
//! - **limits**, measured first in this process: Ed25519 verifications/s
//!   (one at a time, batched, batched on every core), SHA-256 MB/s, and raw
//!   sled inserts/s with the node's durability;
//! - **ingest** at KE-KWS: `import` (the same streaming code as `wildnet
//!   import`), single publishes from concurrent clients, publish latency;
//! - **query** at the stored size: first page by species + time range, by
//!   selector, and `stats`;
//! - **resources**: node RSS, disk bytes per record, start-up time;
//! - **sync**: ZA-DFFE pulling everything from KE-KWS cold, and live
//!   propagation KE → ZA and KE → ZA → GB.
//!
//! It reports; it never passes or fails on a figure.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;
use wildnet_testbed::{Addresses, FedSpec, Links, Node};

use crate::{Format, output};

/// Flags of `wildnet bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Records stored for the ingest, query, sync and resource figures
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// A smoke run with small sizes (under a minute); the figures are not
    /// representative
    #[arg(long)]
    pub quick: bool,
    /// Concurrent clients for the single-publish figures
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Where to create the throw-away federation [default: the temp dir]
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the federation dir (and the nodes' logs) afterwards
    #[arg(long)]
    pub keep: bool,
    /// Instead: simulate a federation of this many in-process nodes, in a
    /// full mesh and in hub-and-spoke (convergence time, bytes on the wire)
    #[arg(long, value_name = "NODES")]
    pub simulate: Option<usize>,
    /// Records each simulated node publishes
    #[arg(long, default_value_t = 50)]
    pub per_node: usize,
}

/// The three agencies: KE-KWS authors, ZA-DFFE pulls from it, GB-NWCU only
/// from ZA-DFFE (a line, so GB gets KE's records by relay).
const KE: &str = "KE-KWS";
const ZA: &str = "ZA-DFFE";
const GB: &str = "GB-NWCU";

/// Key bytes per record in [`wildnet_node::storage::raw_sled`]: a 32-byte
/// id and a 40-byte index key.
const RAW_KEY_BYTES: usize = 72;

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Plan {
    records: u64,
    publishes: usize,
    clients: usize,
    query_samples: usize,
    live_samples: usize,
    limit_budget: Duration,
    raw_sled: usize,
}

impl Plan {
    fn of(a: &BenchArgs) -> Plan {
        if a.quick {
            Plan {
                records: a.records.min(2_000),
                publishes: 200,
                clients: a.clients.clamp(1, 4),
                query_samples: 20,
                live_samples: 10,
                limit_budget: Duration::from_millis(150),
                raw_sled: 5_000,
            }
        } else {
            Plan {
                records: a.records.max(1),
                publishes: 4_000,
                clients: a.clients.max(1),
                query_samples: 200,
                live_samples: 100,
                limit_budget: Duration::from_secs(1),
                raw_sled: (a.records as usize).clamp(10_000, 200_000),
            }
        }
    }
}

/// One reported figure.
#[derive(Debug, Clone)]
struct Figure {
    area: &'static str,
    measure: String,
    value: f64,
    unit: &'static str,
    /// The same-run limit it is compared with, and the ratio.
    against: Option<(String, f64)>,
    target: &'static str,
}

#[derive(Default)]
struct Report {
    figures: Vec<Figure>,
}

impl Report {
    fn add(
        &mut self,
        area: &'static str,
        measure: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> &mut Self {
        self.figures.push(Figure {
            area,
            measure: measure.into(),
            value,
            unit,
            against: None,
            target: "",
        });
        self
    }

    /// Compares the last figure with a limit: ratio = value / limit.
    fn vs(&mut self, limit: &str, limit_value: f64) -> &mut Self {
        if let Some(f) = self.figures.last_mut() {
            f.against = Some((limit.to_string(), f.value / limit_value.max(1e-12)));
        }
        self
    }

    fn target(&mut self, t: &'static str) -> &mut Self {
        if let Some(f) = self.figures.last_mut() {
            f.target = t;
        }
        self
    }
}

/// Creates the federation (CA, three agencies, certificates) with the
/// testbed: addresses learnt by running each node once on port 0, the
/// line KE — ZA — GB as the links. Nothing is left running.
fn create_federation(root: &Path) -> anyhow::Result<Vec<Node>> {
    let spec = FedSpec::new(&[KE, ZA, GB])
        .named("wildnet bench", "bench")
        .links(Links::Line)
        .addresses(Addresses::Learnt)
        .hello_interval(Some(2));
    let built = wildnet_testbed::build(&spec, root)?;
    Ok(built
        .agencies
        .into_iter()
        .map(|a| {
            let mut n = Node::new(&a.id, &a.dir);
            n.addr = Some(a.addr);
            n.log_level = "warn".into();
            n
        })
        .collect())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn p50_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (percentile(&v, 0.5), percentile(&v, 0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn spinner(quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        None,
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn note(n: usize, share: &str) -> anyhow::Result<pb::PublishRequest> {
    let mut h = pb::Handling {
        tlp: pb::Tlp::Green as i32,
        ..Default::default()
    };
    crate::draft::share(share, &mut h)?;
    Ok(wildnet_testbed::drafts::note(
        &format!("bench note {n}"),
        &format!("seller moved to a new channel, batch {n}"),
        Some(h),
    ))
}

/// Waits until `node`'s cursor on `peer` reaches `head`; returns how long.
async fn wait_caught_up(
    c: &mut AgencyClient<Channel>,
    peer: &str,
    head: u64,
    bar: &ProgressBar,
    what: &str,
) -> anyhow::Result<Duration> {
    let progress = |cursor| bar.set_message(format!("{what}: {cursor} of {head} feed positions"));
    wildnet_testbed::wait::caught_up(c, peer, head, Duration::from_secs(3600), progress)
        .await
        .with_context(|| format!("{what}: not caught up"))
}

async fn feed_head(c: &mut AgencyClient<Channel>) -> anyhow::Result<u64> {
    Ok(c.info(pb::InfoRequest {}).await?.into_inner().feed_head)
}

/// Runs `bench`.
pub async fn run(a: BenchArgs, format: Format) -> anyhow::Result<ExitCode> {
    let plan = Plan::of(&a);
    let quiet = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = spinner(quiet);
    let root = match &a.dir {
        Some(d) => tempfile::Builder::new()
            .prefix("wildnet-bench")
            .tempdir_in(d),
        None => tempfile::Builder::new().prefix("wildnet-bench").tempdir(),
    }
    .context("cannot create the bench dir")?;
    let started = Instant::now();
    let mut r = Report::default();
    if let Some(n) = a.simulate {
        let per_node = if a.quick {
            a.per_node.min(5)
        } else {
            a.per_node
        };
        for topology in [
            crate::cmd::simulate::Topology::Mesh,
            crate::cmd::simulate::Topology::HubAndSpoke,
        ] {
            let dir = root.path().join(topology.name().replace(' ', "-"));
            let o = crate::cmd::simulate::run(&dir, topology, n, per_node, &bar).await?;
            let name = topology.name();
            r.add(
                "simulation",
                format!(
                    "{name}: {} nodes x {per_node} records, convergence",
                    o.nodes
                ),
                o.convergence.as_secs_f64(),
                "s",
            );
            r.add(
                "simulation",
                format!("{name}: wire bytes per record published"),
                o.wire_bytes as f64 / o.records as f64,
                "B",
            );
            r.add(
                "simulation",
                format!("{name}: wire bytes per record delivered"),
                o.wire_bytes as f64 / (o.records as f64 * (o.nodes - 1) as f64),
                "B",
            );
            r.add(
                "simulation",
                format!("{name}: connections dialled by the busiest node"),
                o.max_links as f64,
                "",
            );
        }
        bar.finish_and_clear();
        let plan = Plan {
            records: (n * per_node) as u64,
            ..plan
        };
        let total = started.elapsed().as_secs_f64();
        root.close().context("cannot remove the simulation dir")?;
        print(&r, &plan, total, None, format)?;
        return Ok(ExitCode::SUCCESS);
    }

    // Limits, measured first.
    bar.set_message("limits: Ed25519, SHA-256");
    let verify1 = wildnet_node::limits::ed25519_single(plan.limit_budget);
    r.add("limit", "Ed25519 verify, 1 core", verify1, "/s");
    let batch1 = wildnet_node::limits::ed25519_batch(plan.limit_budget);
    r.add(
        "limit",
        format!(
            "Ed25519 verify, batches of {}, 1 core",
            wildnet_node::limits::BATCH
        ),
        batch1,
        "/s",
    );
    let (batch_all, cores) = wildnet_node::limits::ed25519_batch_all_cores(plan.limit_budget);
    r.add(
        "limit",
        format!("Ed25519 verify, batches, {cores} cores"),
        batch_all,
        "/s",
    );
    r.add(
        "limit",
        "SHA-256, 1 core",
        wildnet_node::limits::sha256_mb_s(plan.limit_budget),
        "MB/s",
    );
    bar.set_message("limits: raw sled");
    let raw_len = 640;
    let raw = {
        let dir = root.path().join("raw-sled");
        let n = plan.raw_sled;
        tokio::task::spawn_blocking(move || wildnet_node::storage::raw_sled(&dir, n, raw_len))
            .await??
    };
    r.add(
        "limit",
        format!("sled raw inserts ({raw_len} B + 1 index entry, flush per 1,024)"),
        raw.inserts_per_s,
        "/s",
    );
    let raw_per_record = raw.disk_bytes as f64 / plan.raw_sled as f64;
    r.add("limit", "sled raw disk per record", raw_per_record, "B");

    bar.set_message("creating the federation (CA, 3 agencies, certificates)");
    let mut nodes = create_federation(root.path())?;
    let [ke, za, gb] = nodes.as_mut_slice() else {
        bail!("the federation has three nodes");
    };

    // Ingest at KE.
    ke.start_process()?;
    let mut kec = ke.client().await?;
    bar.set_message(format!("generating {} listings", plan.records));
    let csv = root.path().join("listings.csv");
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
    let (rows, summary, rejected) = crate::cmd::import::import_file(
        &mut kec,
        &csv,
        crate::cmd::import::InputFormat::Csv,
        crate::draft::HandlingArgs::default(),
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
    .vs("sled raw inserts", raw.inserts_per_s)
    .target(">= 20,000/s");

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
    .vs("sled raw inserts", raw.inserts_per_s);
    let (p50, p99) = p50_p99(lat);
    r.add(
        "ingest",
        "publish latency p50 (acknowledged = durable)",
        p50,
        "ms",
    );
    r.add("ingest", "publish latency p99", p99, "ms");
    let stored = plan.records + (per * plan.clients) as u64;

    // Queries at the stored size.
    bar.set_message(format!("queries at {stored} records"));
    let sample = kec
        .query(pb::QueryRequest {
            kind: "listing".into(),
            limit: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    let selector = sample
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
                wildnet_node::record::normalize::selector_kind_name(s.kind),
                s.value
            )
        })
        .context("no listing with a selector to query")?;
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

    // Resources at the stored size.
    bar.set_message("resources and restart");
    r.add(
        "resources",
        format!("node RSS at {stored} records"),
        ke.rss() as f64 / 1e6,
        "MB",
    )
    .target("< 300 MB");
    let disk = wildnet_node::storage::disk_usage(&ke.dir.join("data"));
    ke.terminate()?;
    // The same bytes in raw sled: what the node's trees hold per record
    // (keys and values), as one value plus one index entry per record.
    bar.set_message("limits: raw sled with the node's bytes per record");
    let (logical, rows) = {
        let db = ke.dir.join("data").join("db");
        tokio::task::spawn_blocking(move || wildnet_node::storage::logical_bytes(&db)).await??
    };
    let per_record = logical as f64 / rows.max(1) as f64;
    let same_len = (per_record as usize).saturating_sub(RAW_KEY_BYTES).max(1);
    let same = {
        let dir = root.path().join("raw-sled-same");
        let n = plan.raw_sled;
        tokio::task::spawn_blocking(move || wildnet_node::storage::raw_sled(&dir, n, same_len))
            .await??
    };
    let same_per_record = same.disk_bytes as f64 / plan.raw_sled as f64;
    r.add(
        "resources",
        "bytes the node stores per record (keys + values, all trees)",
        per_record,
        "B",
    );
    r.add(
        "limit",
        "sled raw disk per record for those bytes",
        same_per_record,
        "B",
    );
    r.add(
        "resources",
        "disk per record",
        disk as f64 / stored as f64,
        "B",
    )
    .vs("sled raw disk for the same bytes", same_per_record)
    .target("<= 1.5x raw");
    let startup = ke.start_process()?;
    r.add(
        "resources",
        format!("start-up holding {stored} records"),
        startup.as_secs_f64(),
        "s",
    );
    let mut kec = ke.client().await?;
    let ke_head = feed_head(&mut kec).await?;

    // Cold sync KE → ZA.
    bar.set_message(format!("cold sync: {ZA} pulls {stored} records from {KE}"));
    let t = Instant::now();
    za.start_process()?;
    let mut zac = za.client().await?;
    wait_caught_up(&mut zac, KE, ke_head, &bar, "cold sync").await?;
    let took = t.elapsed();
    let held = zac
        .stats(pb::StatsRequest::default())
        .await?
        .into_inner()
        .records;
    if held < stored {
        bail!("cold sync ended with {held} of {stored} records at {ZA}");
    }
    let rate = held as f64 / took.as_secs_f64();
    r.add("sync", "cold pull (verified, stored, indexed)", rate, "/s")
        .vs("Ed25519 batch verify, 1 core", batch1)
        .target(">= 25,000/s, >= 40% of 1-core batch verify");

    // GB catches up with ZA (nothing of it is GB's: positions only).
    bar.set_message(format!("{GB} scans {ZA}'s feed"));
    let za_head = feed_head(&mut zac).await?;
    gb.start_process()?;
    let mut gbc = gb.client().await?;
    let scan = wait_caught_up(&mut gbc, ZA, za_head, &bar, "feed scan").await?;
    r.add(
        "sync",
        "feed scan with nothing for the peer (positions only)",
        za_head as f64 / scan.as_secs_f64(),
        "/s",
    );

    // Live propagation KE → ZA → GB.
    bar.set_message("live propagation");
    let (mut one_hop, mut two_hops) = (Vec::new(), Vec::new());
    for i in 0..plan.live_samples {
        let t = Instant::now();
        let id = kec
            .publish(note(1_000_000 + i, "federation")?)
            .await?
            .into_inner()
            .id;
        let mut at_za = None;
        loop {
            if at_za.is_none() && zac.get(pb::GetRequest { id: id.clone() }).await.is_ok() {
                at_za = Some(t.elapsed());
            }
            if at_za.is_some() && gbc.get(pb::GetRequest { id: id.clone() }).await.is_ok() {
                two_hops.push(ms(t.elapsed()));
                break;
            }
            if t.elapsed() > Duration::from_secs(30) {
                bail!("live propagation: record {id} not at {GB} after 30 s");
            }
            tokio::task::yield_now().await;
        }
        one_hop.push(at_za.map_or(0.0, ms));
    }
    let (p50, p99) = p50_p99(one_hop);
    r.add("sync", format!("live {KE} -> {ZA} p50"), p50, "ms");
    r.add("sync", format!("live {KE} -> {ZA} p99"), p99, "ms")
        .target("< 50 ms per hop");
    let (p50, p99) = p50_p99(two_hops);
    r.add("sync", format!("live {KE} -> {ZA} -> {GB} p50"), p50, "ms");
    r.add("sync", format!("live {KE} -> {ZA} -> {GB} p99"), p99, "ms")
        .target("< 100 ms (2 hops)");

    for n in nodes.iter_mut() {
        n.terminate()?;
    }
    bar.finish_and_clear();
    let total = started.elapsed().as_secs_f64();
    let kept = if a.keep {
        Some(root.keep())
    } else {
        root.close().context("cannot remove the bench dir")?;
        None
    };
    print(&r, &plan, total, kept.as_deref(), format)?;
    Ok(ExitCode::SUCCESS)
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        let s = format!("{:.0}", v);
        // Thousands separators for readability.
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn print(
    r: &Report,
    plan: &Plan,
    total: f64,
    kept: Option<&Path>,
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Json => output::json(&json!({
            "records": plan.records,
            "seconds": (total * 10.0).round() / 10.0,
            "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "kept": kept.map(|p| p.display().to_string()),
            "figures": r.figures.iter().map(|f| json!({
                "area": f.area,
                "measure": f.measure,
                "value": f.value,
                "unit": f.unit,
                "against": f.against.as_ref().map(|(w, _)| w.clone()),
                "ratio": f.against.as_ref().map(|(_, x)| *x),
                "target": (!f.target.is_empty()).then_some(f.target),
            })).collect::<Vec<_>>(),
        }))?,
        Format::Table => {
            output::table(
                &[
                    "area",
                    "measure",
                    "value",
                    "unit",
                    "vs same-run limit",
                    "target",
                ],
                r.figures
                    .iter()
                    .map(|f| {
                        vec![
                            f.area.to_string(),
                            f.measure.clone(),
                            fmt_value(f.value),
                            f.unit.to_string(),
                            f.against
                                .as_ref()
                                .map(|(w, x)| format!("{:.2}x {w}", x))
                                .unwrap_or_default(),
                            f.target.to_string(),
                        ]
                    })
                    .collect(),
            )?;
            output::line(&format!(
                "{} records, {:.0} s in all{}",
                plan.records,
                total,
                kept.map(|p| format!("; kept in {}", p.display()))
                    .unwrap_or_default()
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_sample() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let (p50, p99) = p50_p99(v);
        assert_eq!((p50, p99), (51.0, 99.0));
        assert_eq!(p50_p99(Vec::new()), (0.0, 0.0));
    }

    #[test]
    fn values_read_well() {
        assert_eq!(fmt_value(1_234_567.4), "1,234,567");
        assert_eq!(fmt_value(123.0), "123");
        assert_eq!(fmt_value(12.34), "12.3");
        assert_eq!(fmt_value(1.234), "1.23");
    }

    #[test]
    fn a_ratio_is_value_over_limit() {
        let mut r = Report::default();
        r.add("sync", "x", 25.0, "/s");
        r.vs("limit", 100.0);
        assert_eq!(r.figures[0].against, Some(("limit".to_string(), 0.25)));
    }
}
