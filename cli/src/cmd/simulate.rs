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
use tokio::sync::oneshot;
use wildnet_node::secretariat::Secretariat;
use wildnet_proto::v1 as pb;

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

struct SimNode {
    id: String,
    socket: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn id_of(i: usize) -> String {
    format!("SM-N{i:03}")
}

async fn client(
    socket: &Path,
) -> anyhow::Result<wildnet_proto::v1::agency_client::AgencyClient<tonic::transport::Channel>> {
    wildnet_node::client::Target::Unix(socket.to_path_buf())
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", socket.display()))
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
    let fed_dir = root.join("fed");
    let mut s = Secretariat::init(&fed_dir, "wildnet simulation")?;
    let mut prepared = Vec::new();
    for i in 0..n {
        let id = id_of(i);
        let dir = root.join(id.to_lowercase());
        wildnet_node::identity::init(&dir, &id, &format!("node {i}"), "SM")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let req = std::fs::read(dir.join("admission-request.pb"))?;
        s.admit(&req, &addr.to_string(), "simulation", false, 30)?;
        prepared.push((id, dir, listener));
    }
    let hub = id_of(0);
    let mut nodes = Vec::new();
    for (i, (id, dir, listener)) in prepared.into_iter().enumerate() {
        let cert = fed_dir
            .join("issued")
            .join(format!("{}.cert.pem", id.to_lowercase()));
        let listen = listener.local_addr()?.to_string();
        wildnet_node::join::join(
            &dir,
            &cert,
            &fed_dir.join("ca.cert.pem"),
            &fed_dir.join("manifest.pb"),
            Some(&listen),
        )
        .map_err(anyhow::Error::msg)?;
        let cfg = dir.join("node.toml");
        let mut text = std::fs::read_to_string(&cfg)?
            .replace("hello_interval_secs = 30", "hello_interval_secs = 2");
        if topology == Topology::HubAndSpoke && i > 0 {
            text = text.replace("# peers = [\"ZA-DFFE\"]", &format!("peers = [\"{hub}\"]"));
        }
        std::fs::write(&cfg, text)?;
        let settings = wildnet_node::config::Settings::load(&cfg)
            .map_err(|e| anyhow::anyhow!("{}: {e}", cfg.display()))?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(wildnet_node::server::run_with(
            settings,
            wildnet_node::server::Listeners {
                federation: Some(listener),
            },
            async move {
                let _ = rx.await;
            },
        ));
        nodes.push(SimNode {
            id,
            socket: dir.join("data").join("wildnet.sock"),
            stop: Some(tx),
            task,
        });
    }
    let result = measure(&nodes, topology, per_node, bar).await;
    for node in &mut nodes {
        if let Some(s) = node.stop.take() {
            let _ = s.send(());
        }
    }
    for node in nodes {
        node.task.await.context("a simulated node panicked")??;
    }
    result
}

async fn measure(
    nodes: &[SimNode],
    topology: Topology,
    per_node: usize,
    bar: &ProgressBar,
) -> anyhow::Result<Outcome> {
    let n = nodes.len();
    let links = |i: usize| match (topology, i) {
        (Topology::Mesh, _) | (Topology::HubAndSpoke, 0) => n - 1,
        (Topology::HubAndSpoke, _) => 1,
    };
    // Every node up, every link authenticated.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut clients = Vec::new();
    for node in nodes {
        loop {
            if std::os::unix::net::UnixStream::connect(&node.socket).is_ok() {
                break;
            }
            if node.task.is_finished() || Instant::now() > deadline {
                bail!("simulated node {} did not start", node.id);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        clients.push(client(&node.socket).await?);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        loop {
            let p = c.peers(pb::PeersRequest {}).await?.into_inner();
            let up = p
                .peers
                .iter()
                .filter(|p| p.state == "authenticated")
                .count();
            bar.set_message(format!(
                "{}: {} of {} links up at {}",
                topology.name(),
                up,
                links(i),
                nodes[i].id
            ));
            if up >= links(i) {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: links of {} did not come up",
                    topology.name(),
                    nodes[i].id
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let wire = |ps: &[pb::PeersResponse]| -> u64 {
        ps.iter()
            .flat_map(|r| r.peers.iter())
            .map(|p| p.wire_sent + p.wire_received)
            .sum()
    };
    let mut before = Vec::new();
    for c in clients.iter_mut() {
        before.push(c.peers(pb::PeersRequest {}).await?.into_inner());
    }
    let total = (n * per_node) as u64;
    let started = Instant::now();
    let mut publishers = Vec::new();
    for c in &clients {
        let mut c = c.clone();
        publishers.push(tokio::spawn(async move {
            for k in 0..per_node {
                c.publish(pb::PublishRequest {
                    draft: Some(pb::RecordBody {
                        handling: Some(pb::Handling {
                            tlp: pb::Tlp::Green as i32,
                            scope: pb::Scope::Federation as i32,
                            ..Default::default()
                        }),
                        payload: Some(pb::record_body::Payload::Note(pb::Note {
                            title: format!("simulated {k}"),
                            text: "a seller moved to another platform".into(),
                        })),
                        ..Default::default()
                    }),
                })
                .await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for p in publishers {
        p.await??;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut least = u64::MAX;
        for c in clients.iter_mut() {
            let held = c
                .stats(pb::StatsRequest::default())
                .await?
                .into_inner()
                .records;
            least = least.min(held);
        }
        bar.set_message(format!(
            "{}: the slowest node holds {least} of {total}",
            topology.name()
        ));
        if least >= total {
            break;
        }
        if Instant::now() > deadline {
            bail!("{}: not converged after 10 minutes", topology.name());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let convergence = started.elapsed();
    let mut after = Vec::new();
    for c in clients.iter_mut() {
        after.push(c.peers(pb::PeersRequest {}).await?.into_inner());
    }
    Ok(Outcome {
        topology,
        nodes: n,
        records: total,
        convergence,
        wire_bytes: wire(&after).saturating_sub(wire(&before)),
        max_links: (0..n).map(links).max().unwrap_or(0),
    })
}
