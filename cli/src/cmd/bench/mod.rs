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
//! It reports; it never passes or fails on a figure. `--simulate N`
//! instead simulates larger federations in-process, and `--load` runs
//! concurrent publishers and queriers on one node while it syncs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;
use wildnet_testbed::{Addresses, FedSpec, Links, Node};

use crate::Format;

mod ingest;
mod limits;
mod load;
mod report;
mod resources;
mod simulation;
mod sync;

use report::Report;

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
    /// Instead: a load run — concurrent publishers and queriers on one
    /// node for --secs while it syncs with two peers (throughput, p99,
    /// peak memory; fails on any error or lost record)
    #[arg(long)]
    pub load: bool,
    /// Seconds of load (--load)
    #[arg(long, default_value_t = 30)]
    pub secs: u64,
    /// Concurrent publishing clients (--load)
    #[arg(long, default_value_t = 32)]
    pub publishers: usize,
    /// Concurrent querying clients (--load)
    #[arg(long, default_value_t = 8)]
    pub queriers: usize,
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
        return simulation::run(&a, n, plan, root, &bar, started, format).await;
    }
    if a.load {
        return load::run(&a, plan, root, &bar, started, format).await;
    }
    let limits = limits::measure(&plan, root.path(), &bar, &mut r).await?;
    bar.set_message("creating the federation (CA, 3 agencies, certificates)");
    let mut nodes = create_federation(root.path())?;
    let [ke, za, gb] = nodes.as_mut_slice() else {
        bail!("the federation has three nodes");
    };
    let stored = ingest::measure(&plan, root.path(), ke, &bar, &mut r, &limits).await?;
    ingest::queries(&plan, ke, stored, &bar, &mut r).await?;
    resources::measure(&plan, root.path(), ke, stored, &bar, &mut r).await?;
    sync::measure(&plan, [ke, za, gb], stored, &bar, &mut r, &limits).await?;
    for n in nodes.iter_mut() {
        n.terminate()?;
    }
    bar.finish_and_clear();
    finish(root, a.keep, &r, &plan, started, format)
}

/// Keeps or removes the run's dir, then prints the report.
fn finish(
    root: tempfile::TempDir,
    keep: bool,
    r: &Report,
    plan: &Plan,
    started: Instant,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let total = started.elapsed().as_secs_f64();
    let kept = if keep {
        Some(root.keep())
    } else {
        root.close().context("cannot remove the bench dir")?;
        None
    };
    report::print(r, plan, total, kept.as_deref(), format)?;
    Ok(ExitCode::SUCCESS)
}
