//! Dialling peers: one task per peer agency of the manifest, reconnecting
//! with exponential backoff and jitter. Each link says Hello (manifest
//! versions), then fetches the peer's manifest when it is newer or offers
//! ours when it is older, and repeats on a timer or as soon as a new
//! manifest is in force (gossip). A dead peer never delays the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::stopped;
use crate::node::Node;

/// Backoff state of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Not tried yet.
    Starting,
    /// Working; the next check is on the timer.
    Up,
    /// Failed `n` times in a row.
    Failing(u32),
}

fn backoff(n: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << n.min(9)).min(30_000);
    // Jitter without a crate: the low bits of the clock.
    let jitter = (crate::now_ms().unsigned_abs() % 1000) * base / 4000;
    Duration::from_millis(base + jitter)
}

/// Runs the peer links until `stop` turns true; follows manifest changes.
pub async fn run(node: Arc<Node>, mut stop: watch::Receiver<bool>) {
    let Some(fed) = node.federation() else { return };
    let mut changes = fed.subscribe();
    let mut tasks: HashMap<String, (String, JoinHandle<()>)> = HashMap::new();
    loop {
        let wanted = fed.wanted_peers();
        let manifest = fed.current();
        tasks.retain(|id, (addr, h)| {
            let keep = wanted.iter().any(|(w, a)| w == id && a == addr);
            if !keep {
                h.abort();
                let why = match manifest.agency(id) {
                    None => format!("not in manifest version {}", manifest.version()),
                    Some(a) if a.revoked_at != 0 => {
                        format!("revoked in manifest version {}", manifest.version())
                    }
                    Some(_) => "no longer dialled (address or peers list changed)".to_string(),
                };
                fed.peer_update(id, |p| {
                    p.state = "dropped".into();
                    p.last_error = why;
                });
            }
            keep
        });
        for (id, addr) in wanted {
            if let std::collections::hash_map::Entry::Vacant(slot) = tasks.entry(id.clone()) {
                fed.peer_update(&id, |p| {
                    p.address = addr.clone();
                    p.state = "connecting".into();
                });
                let h = tokio::spawn(link(node.clone(), id.clone(), addr.clone(), stop.clone()));
                slot.insert((addr, h));
            }
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { break },
            () = stopped(&mut stop) => break,
        }
    }
    for (_, (_, h)) in tasks {
        h.abort();
    }
}

#[tracing::instrument(skip(node, stop), fields(peer = %peer))]
async fn link(node: Arc<Node>, peer: String, address: String, stop: watch::Receiver<bool>) {
    let Some(fed) = node.federation() else { return };
    let mut verify = fed.verify_requested();
    verify.borrow_and_update();
    // A new link has run no check yet: one asked before it started (a
    // `sync --verify` right after the node came up) is still to run.
    let seen = 0;
    let mut l = PeerLink {
        changes: fed.subscribe(),
        sync: fed.sync_requested(),
        verify,
        seen,
        verify_at: None,
        state: Link::Starting,
        client: None,
        node: node.clone(),
        peer,
        address,
        stop,
    };
    l.verify_at = l.next_check();
    loop {
        // A sync asked before this Hello is answered by it.
        l.sync.borrow_and_update();
        let hello = super::hello::hello(&l.node, &l.peer, &l.address, &mut l.client).await;
        let result: Result<(), String> = match hello {
            Ok((version, announced)) => {
                l.up(version);
                match l.work(&announced).await {
                    Ok(()) if *l.stop.borrow() => return,
                    Ok(()) => continue,
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            l.failed(e);
        }
        if !l.pause().await {
            return;
        }
    }
}

/// One peer link's state between rounds.
struct PeerLink {
    node: Arc<Node>,
    peer: String,
    address: String,
    stop: watch::Receiver<bool>,
    changes: watch::Receiver<u64>,
    sync: watch::Receiver<u64>,
    verify: watch::Receiver<u64>,
    /// The last completeness check requested that this link ran.
    seen: u64,
    /// When the periodic completeness check is next due.
    verify_at: Option<tokio::time::Instant>,
    state: Link,
    client:
        Option<wildnet_proto::v1::federation_client::FederationClient<tonic::transport::Channel>>,
}

impl PeerLink {
    fn next_check(&self) -> Option<tokio::time::Instant> {
        let interval = self.node.federation()?.settings().verify_interval_secs;
        (interval > 0).then(|| tokio::time::Instant::now() + Duration::from_secs(interval))
    }

    /// Hello succeeded: the peer is authenticated.
    fn up(&mut self, version: u64) {
        if self.state != Link::Up {
            tracing::info!(version, "peer authenticated");
        }
        if let Some(fed) = self.node.federation() {
            fed.peer_update(&self.peer, |p| {
                p.state = "authenticated".into();
                p.last_error.clear();
                p.last_success = crate::now_ms();
                p.manifest_version = version;
            });
        }
        self.state = Link::Up;
    }

    /// Receipts queued while the link was down go first (those that cannot
    /// go stay queued and never hold up the pull); then the completeness
    /// check when asked or due; then Pull (and subscribe) until the stream
    /// fails or a re-handshake is needed (new manifest, sync or check).
    async fn work(&mut self, announced: &crate::policy::PeerPolicy) -> Result<(), String> {
        let Some(c) = self.client.as_mut() else {
            return Err("no connection".into());
        };
        if let Err(e) = super::receipts::deliver_receipts(&self.node, &self.peer, c).await {
            tracing::warn!(cause = %e, "receipts not delivered; kept for later");
        }
        let asked = *self.verify.borrow_and_update();
        let due = asked != self.seen
            || self
                .verify_at
                .is_some_and(|t| t <= tokio::time::Instant::now());
        if due {
            self.seen = asked;
            self.verify_at = self.next_check();
            let c = self.client.as_mut().ok_or("no connection")?;
            if let Err(e) = super::complete::verify(&self.node, &self.peer, c, announced).await {
                tracing::warn!(cause = %e, "completeness check failed");
                if let Some(fed) = self.node.federation() {
                    fed.peer_update(&self.peer, |p| p.verify_error = e.clone());
                }
                return Err(e);
            }
        }
        let c = self.client.as_mut().ok_or("no connection")?;
        super::pull::pull(
            &self.node,
            &self.peer,
            c,
            &mut self.stop,
            &mut self.sync,
            &mut self.verify,
            self.verify_at,
        )
        .await
    }

    /// A round failed: drop the connection, back off.
    fn failed(&mut self, e: String) {
        self.client = None;
        let e = super::dial::advise(&self.peer, &self.address, &e);
        let n = match self.state {
            Link::Starting | Link::Up => 0,
            Link::Failing(n) => n + 1,
        };
        if n == 0 || n.is_power_of_two() {
            tracing::warn!(cause = %e, attempt = n + 1, "peer link failed");
        }
        if let Some(fed) = self.node.federation() {
            fed.peer_update(&self.peer, |p| {
                p.state = "failing".into();
                p.last_error = e;
            });
        }
        self.state = Link::Failing(n);
    }

    /// Waits for the next round; false when the link must end.
    async fn pause(&mut self) -> bool {
        let every = self
            .node
            .federation()
            .map_or(30, |f| f.settings().hello_interval_secs.max(1));
        let wait = match self.state {
            Link::Starting | Link::Up => Duration::from_secs(every),
            Link::Failing(n) => backoff(n),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            r = self.changes.changed() => r.is_ok(),
            r = self.verify.changed() => r.is_ok(),
            r = self.sync.changed() => r.is_ok(),
            () = stopped(&mut self.stop) => false,
        }
    }
}
