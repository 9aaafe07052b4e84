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
    /// Bytes on the wire in that time, every connection counted once.
    pub wire_bytes: u64,
    /// Connections the busiest node dials.
    pub max_links: usize,
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
    let before = wire_bytes(&clients).await?;
    let total = (n * per_node) as u64;
    let started = Instant::now();
    publish_all(&clients, per_node).await?;
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
    let after = wire_bytes(&clients).await?;
    Ok(Outcome {
        topology,
        nodes: n,
        records: total,
        convergence,
        wire_bytes: after.saturating_sub(before),
        max_links: (0..n).map(links).max().unwrap_or(0),
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

/// Bytes on the wire so far, over every node's dialled connections.
async fn wire_bytes(clients: &[Client]) -> anyhow::Result<u64> {
    let mut sum = 0;
    for c in clients {
        let r = c.clone().peers(pb::PeersRequest {}).await?.into_inner();
        sum += r
            .peers
            .iter()
            .map(|p| p.wire_sent + p.wire_received)
            .sum::<u64>();
    }
    Ok(sum)
}

/// Every node publishes `per_node` FEDERATION notes at once.
async fn publish_all(clients: &[Client], per_node: usize) -> anyhow::Result<()> {
    let mut publishers = Vec::new();
    for c in clients {
        let mut c = c.clone();
        publishers.push(tokio::spawn(async move {
            for k in 0..per_node {
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
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for p in publishers {
        p.await??;
    }
    Ok(())
}
