//! `wildnet bench --simulate N`: a federation of N in-process nodes (real
//! sled stores, real certificates, mutual TLS on loopback ports the OS
//! assigns) in a full mesh and in hub-and-spoke; every node publishes the
//! same number of FEDERATION records at once, and the run reports how long
//! until every node holds every record, and the bytes on the wire (TLS
//! included) per record.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use wildnet_proto::v1 as pb;
use wildnet_testbed::{FedSpec, Federation, Kind, Links, Node, drafts};

/// The two topologies compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Every node dials every other.
    Mesh,
    /// Node 0 dials every other; the others dial only node 0.
    HubAndSpoke,
}

impl Topology {
    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Topology::Mesh => "full mesh",
            Topology::HubAndSpoke => "hub-and-spoke",
        }
    }
}

/// What one topology did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The topology.
    pub topology: Topology,
    /// Nodes.
    pub nodes: usize,
    /// Records published in all.
    pub records: u64,
    /// From the first publish until every node held every record.
    pub convergence: Duration,
    /// From the first publish until every publish was acknowledged.
    pub published: Duration,
    /// CPU time the process used until convergence (every node is in this
    /// process): over `convergence`, the cores kept busy.
    pub cpu: Duration,
    /// Bytes on the wire in that time, every connection counted once.
    pub wire_bytes: u64,
    /// Records that arrived in full in that time, at every node from every
    /// peer (stored, already held, or refused): the copies.
    pub copies: u64,
    /// Connections per node, dialled plus accepted (as the nodes' links
    /// report them): the mean and the busiest node's.
    pub connections: (f64, usize),
}

impl Outcome {
    /// Deliveries: every record to every node but its author's.
    pub fn deliveries(&self) -> u64 {
        self.records * (self.nodes as u64 - 1)
    }
}

fn id_of(i: usize) -> String {
    format!("SM-N{i:03}")
}

/// Runs one topology with `n` nodes publishing `per_node` records each.
pub async fn run(
    root: &Path,
    topology: Topology,
    n: usize,
    per_node: usize,
    bar: &ProgressBar,
) -> anyhow::Result<Outcome> {
    if n < 2 {
        bail!("--simulate needs at least 2 nodes");
    }
    let ids: Vec<String> = (0..n).map(id_of).collect();
    let links = match topology {
        Topology::Mesh => Links::Mesh,
        Topology::HubAndSpoke => Links::Star(0),
    };
    let spec = FedSpec::new(&ids)
        .named("wildnet simulation", "simulation")
        .links(links)
        .hello_interval(Some(2));
    let fed = Federation::start_in(&spec, root, Kind::InProcess).await?;
    let result = measure(&fed.nodes, topology, per_node, bar).await;
    fed.stop().await.context("a simulated node failed")?;
    result
}

async fn measure(
    nodes: &[Node],
    topology: Topology,
    per_node: usize,
    bar: &ProgressBar,
) -> anyhow::Result<Outcome> {
    let n = nodes.len();
    let links = |i: usize| match (topology, i) {
        (Topology::Mesh, _) | (Topology::HubAndSpoke, 0) => n - 1,
        (Topology::HubAndSpoke, _) => 1,
    };
    let mut clients = Vec::new();
    for node in nodes {
        clients.push(node.client().await?);
    }
    links_up(nodes, &clients, &links, topology, bar).await?;
    let connections = connections(nodes, &clients).await?;
    let before = tally(&clients).await?;
    let total = (n * per_node) as u64;
    let cpu_before = cpu_time();
    let started = Instant::now();
    publish_all(&clients, per_node).await?;
    let published = started.elapsed();
    let progress = |least| {
        bar.set_message(format!(
            "{}: the slowest node holds {least} of {total}",
            topology.name()
        ))
    };
    wildnet_testbed::wait::converged(&clients, total, Duration::from_secs(600), progress)
        .await
        .with_context(|| format!("{}: not converged", topology.name()))?;
    let convergence = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let deliveries = total * (n as u64 - 1);
    let after = accounted(&clients, before.copies + deliveries).await?;
    Ok(Outcome {
        topology,
        nodes: n,
        records: total,
        convergence,
        published,
        cpu,
        wire_bytes: after.wire.saturating_sub(before.wire),
        copies: after.copies.saturating_sub(before.copies),
        connections,
    })
}

type Client = wildnet_proto::v1::agency_client::AgencyClient<tonic::transport::Channel>;

/// Until every node has `links(i)` authenticated links.
async fn links_up(
    nodes: &[Node],
    clients: &[Client],
    links: &dyn Fn(usize) -> usize,
    topology: Topology,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    for (i, c) in clients.iter().enumerate() {
        let mut c = c.clone();
        let at = &nodes[i].agency;
        let what = format!("{}: the links of {at}", topology.name());
        let mut d = wildnet_testbed::wait::Deadline::new(what, Duration::from_secs(120));
        loop {
            let p = c.peers(pb::PeersRequest {}).await?.into_inner();
            let up = p
                .peers
                .iter()
                .filter(|p| p.state == "authenticated")
                .count();
            bar.set_message(format!(
                "{}: {up} of {} links up at {at}",
                topology.name(),
                links(i)
            ));
            if up >= links(i) {
                break;
            }
            d.tick(format!("{up} of {} up", links(i))).await?;
        }
    }
    Ok(())
}

/// User plus system CPU time of this process so far (Linux
/// `/proc/self/stat`, in the kernel's fixed 100 ticks per second; zero
/// where it cannot be read).
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The fields after the command name, which is in parentheses.
            let rest = s.get(s.rfind(')')? + 2..)?.to_string();
            let f: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() == 2).then(|| f[0] + f[1])
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Counters summed over every node's peers.
#[derive(Default)]
struct Tally {
    /// Bytes on the wire so far, over every node's dialled connections.
    wire: u64,
    /// Records received in full so far.
    copies: u64,
}

async fn tally(clients: &[Client]) -> anyhow::Result<Tally> {
    let mut t = Tally::default();
    for c in clients {
        let r = c.clone().peers(pb::PeersRequest {}).await?.into_inner();
        for p in &r.peers {
            t.wire += p.wire_sent + p.wire_received;
            t.copies += p.received + p.duplicates + p.rejected;
        }
    }
    Ok(t)
}

/// The tally once the peers' counters account for `copies` records
/// received: a node counts a batch just after storing it, so the last
/// batches' counts can trail convergence by a moment.
async fn accounted(clients: &[Client], copies: u64) -> anyhow::Result<Tally> {
    let what = format!("the peers' counters to account for {copies} copies");
    let mut d = wildnet_testbed::wait::Deadline::new(what, Duration::from_secs(30));
    loop {
        let t = tally(clients).await?;
        if t.copies >= copies {
            return Ok(t);
        }
        d.tick(format!("{} copies", t.copies)).await?;
    }
}

/// Connections per node, dialled and accepted, from the authenticated
/// links every node reports: `(mean, busiest)`.
async fn connections(nodes: &[Node], clients: &[Client]) -> anyhow::Result<(f64, usize)> {
    let mut per = vec![0usize; nodes.len()];
    for (i, c) in clients.iter().enumerate() {
        let r = c.clone().peers(pb::PeersRequest {}).await?.into_inner();
        for p in r.peers.iter().filter(|p| p.state == "authenticated") {
            per[i] += 1;
            if let Some(j) = nodes.iter().position(|n| n.agency == p.agency) {
                per[j] += 1;
            }
        }
    }
    let mean = per.iter().sum::<usize>() as f64 / per.len().max(1) as f64;
    Ok((mean, per.iter().copied().max().unwrap_or(0)))
}

/// Every node publishes `per_node` FEDERATION notes at once (concurrent
/// calls: the node's group commit takes them together).
async fn publish_all(clients: &[Client], per_node: usize) -> anyhow::Result<()> {
    let mut publishers = tokio::task::JoinSet::new();
    for c in clients {
        for k in 0..per_node {
            let mut c = c.clone();
            publishers.spawn(async move {
                let handling = pb::Handling {
                    tlp: pb::Tlp::Green as i32,
                    scope: pb::Scope::Federation as i32,
                    ..Default::default()
                };
                let text = "a seller moved to another platform";
                c.publish(drafts::note(
                    &format!("simulated {k}"),
                    text,
                    Some(handling),
                ))
                .await?;
                Ok::<_, anyhow::Error>(())
            });
        }
    }
    while let Some(p) = publishers.join_next().await {
        p??;
    }
    Ok(())
}
