//! Builds a federation on disk the way a secretariat and its agencies do
//! apart: `federation init`, `init` per agency, `admit`, groups, `join`,
//! then the node.toml edits the spec asks for — through the typed
//! [`NodeToml`] editor, never by editing text.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use wildnet_node::config::NodeToml;
use wildnet_node::layout;
use wildnet_node::secretariat::Secretariat;

use crate::node::Node;
use crate::spec::{Addresses, FedSpec};

/// One agency of a built federation.
#[derive(Debug)]
pub struct Agency {
    /// Its id.
    pub id: String,
    /// Its agency dir.
    pub dir: PathBuf,
    /// Its Federation address, as the manifest lists it.
    pub addr: SocketAddr,
    /// With [`Addresses::Bound`]: the listener bound on `addr`, for an
    /// in-process node.
    pub listener: Option<std::net::TcpListener>,
}

/// A federation on disk, no node running.
#[derive(Debug)]
pub struct Built {
    /// The secretariat's dir.
    pub fed_dir: PathBuf,
    /// The agencies, in the spec's order.
    pub agencies: Vec<Agency>,
}

impl Built {
    /// The secretariat, to edit the manifest.
    pub fn secretariat(&self) -> anyhow::Result<Secretariat> {
        Ok(Secretariat::open(&self.fed_dir)?)
    }
}

/// Builds `spec` under `root` (which must not hold a federation yet).
pub fn build(spec: &FedSpec, root: &Path) -> anyhow::Result<Built> {
    let fed_dir = root.join(&spec.secretariat_dir);
    let mut s = Secretariat::init(&fed_dir, &spec.name)
        .with_context(|| format!("cannot create the secretariat in {}", fed_dir.display()))?;
    let mut agencies = Vec::new();
    for (i, id) in spec.agencies.iter().enumerate() {
        let dir = root.join(id.to_lowercase());
        let country = id.get(..2).unwrap_or(id);
        wildnet_node::identity::init(&dir, id, &format!("{id} ({})", spec.label), country)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let (addr, listener) = address(spec.addresses, i)?;
        let req = std::fs::read(dir.join(layout::ADMISSION_FILE))?;
        s.admit(
            &req,
            &addr.to_string(),
            &format!("duty officer, {id}"),
            false,
            spec.cert_days,
        )?;
        agencies.push(Agency {
            id: id.clone(),
            dir,
            addr,
            listener,
        });
    }
    for (name, members) in &spec.groups {
        s.group_set(name, members)?;
    }
    for (i, a) in agencies.iter().enumerate() {
        let listen = match spec.addresses {
            Addresses::Learnt => "127.0.0.1:0".to_string(),
            _ => a.addr.to_string(),
        };
        join(&fed_dir, a, &listen)?;
        let mut cfg = NodeToml::open(&a.dir.join(layout::CONFIG_FILE))?;
        if let Some(peers) = spec.links.peers_of(&spec.agencies, i) {
            cfg.set_peers(&peers);
        }
        if let Some(secs) = spec.hello_interval_secs {
            cfg.set_hello_interval(secs);
        }
        if let Some(base) = spec.http {
            let port = match base {
                0 => 0,
                b => u16::try_from(i)
                    .ok()
                    .and_then(|i| b.checked_add(i))
                    .context("the HTTP base port is too high for this many agencies")?,
            };
            cfg.set_http_listen(&format!("127.0.0.1:{port}"));
        }
        for (_, peer, tlp) in spec.shares.iter().filter(|(who, _, _)| *who == a.id) {
            cfg.set_share_max_tlp(peer, tlp);
        }
        cfg.save()?;
    }
    let mut built = Built { fed_dir, agencies };
    if spec.addresses == Addresses::Learnt {
        learn_addresses(&mut built, &mut s)?;
    }
    Ok(built)
}

/// The address agency `i` gets, and its listener when bound here.
fn address(
    how: Addresses,
    i: usize,
) -> anyhow::Result<(SocketAddr, Option<std::net::TcpListener>)> {
    Ok(match how {
        Addresses::Bound => {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            (l.local_addr()?, Some(l))
        }
        // A placeholder until the node has bound its own.
        Addresses::Learnt => ("127.0.0.1:1".parse()?, None),
        Addresses::Fixed(base) => {
            let port = u16::try_from(i)
                .ok()
                .and_then(|i| base.checked_add(i))
                .context("the base port is too high for this many agencies")?;
            (SocketAddr::from(([127, 0, 0, 1], port)), None)
        }
    })
}

fn join(fed_dir: &Path, a: &Agency, listen: &str) -> anyhow::Result<()> {
    wildnet_node::join::join(
        &a.dir,
        &fed_dir.join(layout::issued_cert(&a.id)),
        &fed_dir.join(layout::CA_CERT),
        &fed_dir.join(layout::MANIFEST),
        Some(listen),
    )
    .map_err(anyhow::Error::msg)
    .with_context(|| format!("{} cannot join", a.id))?;
    Ok(())
}

/// Runs each node once on port 0 to learn the port it binds, puts the real
/// addresses in the manifest and installs it everywhere.
fn learn_addresses(built: &mut Built, s: &mut Secretariat) -> anyhow::Result<()> {
    for a in &mut built.agencies {
        let mut node = Node::new(&a.id, &a.dir);
        node.start_process()?;
        let file = a
            .dir
            .join(layout::DATA_DIR)
            .join(wildnet_node::server::FEDERATION_ADDR_FILE);
        let addr = std::fs::read_to_string(&file)
            .with_context(|| format!("{} did not write {}", a.id, file.display()))?;
        node.terminate()?;
        a.addr = addr.trim().parse()?;
        s.set_address(&a.id, &a.addr.to_string())?;
    }
    for a in &built.agencies {
        std::fs::copy(
            built.fed_dir.join(layout::MANIFEST),
            a.dir.join(layout::JOINED_MANIFEST_FILE),
        )?;
        let mut cfg = NodeToml::open(&a.dir.join(layout::CONFIG_FILE))?;
        cfg.set_listen(&a.addr.to_string());
        cfg.save()?;
    }
    Ok(())
}
