//! A running throw-away federation: built from a [`FedSpec`] in a temp
//! dir (or a given one), every node started in this process or as a child
//! process.

use std::path::{Path, PathBuf};

use anyhow::Context;
use tempfile::TempDir;
use wildnet_node::secretariat::Secretariat;

use crate::build::build;
use crate::node::{Kind, Node};
use crate::spec::FedSpec;
use crate::wait;

/// The federation; its nodes stop when it is dropped.
#[derive(Debug)]
pub struct Federation {
    /// Keeps a temp root alive (`None`: the caller's dir).
    pub tmp: Option<TempDir>,
    /// Where everything is.
    pub root: PathBuf,
    /// The secretariat's dir.
    pub fed_dir: PathBuf,
    /// The nodes, in the spec's order.
    pub nodes: Vec<Node>,
}

impl Federation {
    /// Builds `spec` in a fresh temp dir and starts every node as `kind`.
    pub async fn start(spec: &FedSpec, kind: Kind) -> anyhow::Result<Federation> {
        let tmp = tempfile::Builder::new().prefix("wnfed").tempdir()?;
        let root = tmp.path().to_path_buf();
        let mut f = Federation::start_in(spec, &root, kind).await?;
        f.tmp = Some(tmp);
        Ok(f)
    }

    /// Builds `spec` under `root` and starts every node as `kind`.
    pub async fn start_in(spec: &FedSpec, root: &Path, kind: Kind) -> anyhow::Result<Federation> {
        let built = build(spec, root)?;
        let mut nodes = Vec::new();
        for a in built.agencies {
            let mut node = Node::new(&a.id, &a.dir);
            node.addr = Some(a.addr);
            match kind {
                Kind::InProcess => {
                    let listener = match a.listener {
                        Some(l) => {
                            l.set_nonblocking(true)?;
                            Some(tokio::net::TcpListener::from_std(l)?)
                        }
                        None => None,
                    };
                    node.start_in_process(listener).await?;
                }
                Kind::Process => {
                    drop(a.listener);
                    node.start_process()?;
                }
            }
            nodes.push(node);
        }
        Ok(Federation {
            tmp: None,
            root: root.to_path_buf(),
            fed_dir: built.fed_dir,
            nodes,
        })
    }

    /// A node by agency id.
    pub fn node(&self, id: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.agency == id)
            .unwrap_or_else(|| panic!("no node {id} in this federation"))
    }

    /// A node by agency id, to stop or restart it.
    pub fn node_mut(&mut self, id: &str) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.agency == id)
            .unwrap_or_else(|| panic!("no node {id} in this federation"))
    }

    /// The secretariat, to edit the manifest.
    pub fn secretariat(&self) -> anyhow::Result<Secretariat> {
        Ok(Secretariat::open(&self.fed_dir)?)
    }

    /// Stops a node, lets `edit` change its agency dir (config, store),
    /// and starts it again the same way on the same address.
    pub async fn restart_with(&mut self, id: &str, edit: impl FnOnce(&Path)) -> anyhow::Result<()> {
        let node = self.node_mut(id);
        node.stop().await?;
        edit(&node.dir.clone());
        node.restart().await
    }

    /// Waits until `node` reports every agency of `peers` in `state`.
    pub async fn wait_peer_state(
        &self,
        node: &str,
        peers: &[&str],
        state: &str,
    ) -> anyhow::Result<()> {
        let c = self.node(node).client().await?;
        wait::peer_state(&c, peers, state, wait::DEFAULT)
            .await
            .with_context(|| format!("at {node}"))
    }

    /// Waits until every one of `nodes` has manifest `version` in force.
    pub async fn wait_manifest(&self, nodes: &[&str], version: u64) -> anyhow::Result<()> {
        for id in nodes {
            let c = self.node(id).client().await?;
            wait::manifest(&c, version, wait::DEFAULT)
                .await
                .with_context(|| format!("at {id}"))?;
        }
        Ok(())
    }

    /// Stops every node gracefully.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        for n in &mut self.nodes {
            n.stop().await?;
        }
        Ok(())
    }
}
