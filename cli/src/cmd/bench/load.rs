//! `bench --load`: many concurrent publishers and queriers on ZA-DFFE for
//! a fixed time while it syncs with its two peers (KE-KWS and GB-NWCU
//! publish too, and it pulls from both), bounded and on loopback. It
//! reports throughput, p50/p99 latencies and the node's peak memory, then
//! waits for the three nodes to converge and checks that every
//! acknowledged record is held by all three. An error or a lost record
//! fails the run: those are not figures.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use tempfile::TempDir;
use wildnet_proto::v1 as pb;
use wildnet_testbed::Node;

use super::report::{Report, ms, p50_p99};
use super::{BenchArgs, Plan, create_federation, note};
use crate::Format;

type Client = wildnet_proto::v1::agency_client::AgencyClient<tonic::transport::Channel>;

/// What the load's tasks saw.
#[derive(Default)]
struct Seen {
    publish_ms: Vec<f64>,
    query_ms: Vec<f64>,
    acked: Vec<String>,
    errors: Vec<String>,
}

/// Publishes until `stop`, timing each; stops at the first error.
async fn publisher(mut c: Client, who: usize, stop: Arc<AtomicBool>) -> Seen {
    let mut s = Seen::default();
    for n in 0usize.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let req = match note(who * 1_000_000 + n, "federation") {
            Ok(r) => r,
            Err(e) => {
                s.errors.push(e.to_string());
                break;
            }
        };
        let t = Instant::now();
        match c.publish(req).await {
            Ok(r) => {
                s.publish_ms.push(ms(t.elapsed()));
                s.acked.push(r.into_inner().id);
            }
            Err(e) => {
                s.errors.push(format!("publish: {}", e.message()));
                break;
            }
        }
    }
    s
}

/// Queries (a first page of notes, then the counts) until `stop`.
async fn querier(mut c: Client, stop: Arc<AtomicBool>) -> Seen {
    let mut s = Seen::default();
    for n in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let t = Instant::now();
        let r = if n % 2 == 0 {
            let q = pb::QueryRequest {
                kind: "note".into(),
                limit: 20,
                ..Default::default()
            };
            c.query(q).await.map(drop)
        } else {
            c.stats(pb::StatsRequest { by: "kind".into() })
                .await
                .map(drop)
        };
        match r {
            Ok(()) => s.query_ms.push(ms(t.elapsed())),
            Err(e) => {
                s.errors.push(format!("query: {}", e.message()));
                break;
            }
        }
    }
    s
}

/// Samples the node's RSS until `stop`; the peak, bytes.
async fn peak_rss(pid_rss: impl Fn() -> u64, stop: Arc<AtomicBool>, peak: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        peak.fetch_max(pid_rss(), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the load on the middle node, `nodes[1]`, for `secs`.
async fn drive(
    nodes: &[Node],
    a: &BenchArgs,
    secs: u64,
    bar: &ProgressBar,
) -> anyhow::Result<(Seen, f64, u64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..a.publishers {
        tasks.push(tokio::spawn(publisher(
            nodes[1].client().await?,
            w,
            stop.clone(),
        )));
    }
    for _ in 0..a.queriers {
        tasks.push(tokio::spawn(querier(
            nodes[1].client().await?,
            stop.clone(),
        )));
    }
    // The two peers publish too: the loaded node pulls from both.
    for (i, n) in [&nodes[0], &nodes[2]].into_iter().enumerate() {
        tasks.push(tokio::spawn(publisher(
            n.client().await?,
            900 + i,
            stop.clone(),
        )));
    }
    let peak = Arc::new(AtomicU64::new(0));
    let pid = nodes[1].pid().context("the loaded node is not running")?;
    let rss = move || wildnet_testbed::node::rss_of(pid);
    let sampler = tokio::spawn(peak_rss(rss, stop.clone(), peak.clone()));
    bar.set_message(format!(
        "load: {} publishers and {} queriers on {} for {secs} s, syncing with two peers",
        a.publishers, a.queriers, nodes[1].agency
    ));
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = Seen::default();
    for task in tasks {
        let s = task.await?;
        seen.publish_ms.extend(s.publish_ms);
        seen.query_ms.extend(s.query_ms);
        seen.acked.extend(s.acked);
        seen.errors.extend(s.errors);
    }
    let elapsed = t.elapsed().as_secs_f64();
    sampler.await?;
    Ok((seen, elapsed, peak.load(Ordering::Relaxed)))
}

/// Waits until all three nodes hold every acknowledged note, then checks
/// each acknowledged id at each node; returns how long convergence took.
async fn converge(nodes: &[Node], acked: &[String], bar: &ProgressBar) -> anyhow::Result<f64> {
    let t = Instant::now();
    let mut clients = Vec::new();
    for n in nodes {
        clients.push(n.client().await?);
    }
    bar.set_message(format!(
        "load: waiting for {} records to reach all three nodes",
        acked.len()
    ));
    wildnet_testbed::wait::converged(
        &clients,
        acked.len() as u64,
        Duration::from_secs(600),
        |_| {},
    )
    .await
    .context("the nodes did not converge after the load")?;
    let secs = t.elapsed().as_secs_f64();
    for (n, c) in nodes.iter().zip(&clients) {
        for id in acked {
            let got = c.clone().get(pb::GetRequest { id: id.clone() }).await;
            if got.is_err() {
                bail!("acknowledged record {id} is missing at {}", n.agency);
            }
        }
    }
    Ok(secs)
}

/// The p50 and p99 rows of one kind of call.
fn latencies(r: &mut Report, what: &str, samples: Vec<f64>) {
    let (p50, p99) = p50_p99(samples);
    r.add("load", format!("{what} latency p50"), p50, "ms");
    r.add("load", format!("{what} latency p99"), p99, "ms");
}

pub(super) async fn run(
    a: &BenchArgs,
    plan: Plan,
    root: TempDir,
    bar: &ProgressBar,
    started: Instant,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let mut r = Report::default();
    super::limits::measure(&plan, root.path(), bar, &mut r).await?;
    let secs = if a.quick { a.secs.min(3) } else { a.secs };
    let mut nodes = create_federation(root.path())?;
    for n in nodes.iter_mut() {
        n.start_process()?;
    }
    let base = nodes[1].rss();
    let (seen, elapsed, peak) = drive(&nodes, a, secs, bar).await?;
    if let Some(e) = seen.errors.first() {
        bail!(
            "{} calls failed under load, the first: {e}",
            seen.errors.len()
        );
    }
    let converged = converge(&nodes, &seen.acked, bar).await?;
    for n in nodes.iter_mut() {
        n.terminate()?;
    }
    bar.finish_and_clear();
    let area = "load";
    r.add(
        area,
        format!("publishes, {} clients + 2 peers publishing", a.publishers),
        seen.publish_ms.len() as f64 / elapsed,
        "/s",
    );
    latencies(&mut r, "publish", seen.publish_ms);
    r.add(
        area,
        format!("queries, {} clients", a.queriers),
        seen.query_ms.len() as f64 / elapsed,
        "/s",
    );
    latencies(&mut r, "query", seen.query_ms);
    r.add(
        area,
        "acknowledged records, all held by all 3 nodes",
        seen.acked.len() as f64,
        "",
    );
    r.add(area, "convergence after the load", converged, "s");
    r.add(area, "node RSS before", base as f64 / 1e6, "MB");
    r.add(area, "node RSS peak under load", peak as f64 / 1e6, "MB");
    let plan = Plan {
        records: seen.acked.len() as u64,
        ..plan
    };
    super::finish(root, a.keep, &r, &plan, started, format)
}
