//! `bench --simulate N`: the two topologies of in-process nodes, as
//! figures.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::ProgressBar;
use tempfile::TempDir;

use super::report::{self, Report};
use super::{BenchArgs, Plan};
use crate::Format;

pub(super) async fn run(
    a: &BenchArgs,
    n: usize,
    plan: Plan,
    root: TempDir,
    bar: &ProgressBar,
    started: Instant,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let mut r = Report::default();
    // The same-run limit: verifying every delivery once, on every core.
    let verify = wildnet_node::limits::ed25519_single(plan.limit_budget);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    r.add("limit", "Ed25519 verify, 1 core", verify, "/s");
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
        let o = crate::cmd::simulate::run(&dir, topology, n, per_node, bar).await?;
        add_outcome(&mut r, &o, per_node, verify * cores as f64);
    }
    bar.finish_and_clear();
    let plan = Plan {
        records: (n * per_node) as u64,
        ..plan
    };
    let total = started.elapsed().as_secs_f64();
    root.close().context("cannot remove the simulation dir")?;
    report::print(&r, &plan, total, None, format)?;
    Ok(ExitCode::SUCCESS)
}

/// One topology's rows.
/// `verify_all`: signatures verified per second on all cores.
fn add_outcome(
    r: &mut Report,
    o: &crate::cmd::simulate::Outcome,
    per_node: usize,
    verify_all: f64,
) {
    let name = o.topology.name();
    let deliveries = o.deliveries().max(1) as f64;
    r.add(
        "simulation",
        format!(
            "{name}: {} nodes x {per_node} records, convergence",
            o.nodes
        ),
        o.convergence.as_secs_f64(),
        "s",
    )
    .vs(
        "verifying every delivery once on every core",
        deliveries / verify_all.max(1.0),
    )
    .target("< 2 s at 20 nodes");
    r.add(
        "simulation",
        format!("{name}: of which until every publish was acknowledged"),
        o.published.as_secs_f64(),
        "s",
    );
    r.add(
        "simulation",
        format!("{name}: cores kept busy until convergence (CPU time / time)"),
        o.cpu.as_secs_f64() / o.convergence.as_secs_f64().max(1e-9),
        "",
    );
    r.add(
        "simulation",
        format!("{name}: wire bytes per record published"),
        o.wire_bytes as f64 / o.records.max(1) as f64,
        "B",
    );
    r.add(
        "simulation",
        format!("{name}: wire bytes per record delivered"),
        o.wire_bytes as f64 / deliveries,
        "B",
    );
    r.add(
        "simulation",
        format!("{name}: copies received per record delivered"),
        o.copies as f64 / deliveries,
        "",
    )
    .target("<= 1.5");
    r.add(
        "simulation",
        format!("{name}: connections per node (dialled + accepted), mean"),
        o.connections.0,
        "",
    );
    r.add(
        "simulation",
        format!("{name}: connections of the busiest node"),
        o.connections.1 as f64,
        "",
    );
}
