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
async fn link(node: Arc<Node>, peer: String, address: String, mut stop: watch::Receiver<bool>) {
    let Some(fed) = node.federation() else { return };
    let mut changes = fed.subscribe();
    let mut sync = fed.sync_requested();
    let mut verify = fed.verify_requested();
    let mut seen = *verify.borrow_and_update();
    let every = Duration::from_secs(fed.settings().hello_interval_secs.max(1));
    let interval = fed.settings().verify_interval_secs;
    let next_check =
        || (interval > 0).then(|| tokio::time::Instant::now() + Duration::from_secs(interval));
    let mut verify_at = next_check();
    let mut state = Link::Starting;
    let mut client = None;
    loop {
        // A sync asked before this Hello is answered by it.
        sync.borrow_and_update();
        let mut result = super::hello::hello(&node, &peer, &address, &mut client).await;
        if let Ok((version, _)) = &result {
            if state != Link::Up {
                tracing::info!(version, "peer authenticated");
            }
            fed.peer_update(&peer, |p| {
                p.state = "authenticated".into();
                p.last_error.clear();
                p.last_success = crate::now_ms();
                p.manifest_version = *version;
            });
            state = Link::Up;
        }
        if let (Ok((_, announced)), Some(c)) = (&result, client.as_mut()) {
            // Receipts queued while the link was down go first; those that
            // cannot go stay queued and never hold up the pull.
            if let Err(e) = super::receipts::deliver_receipts(&node, &peer, c).await {
                tracing::warn!(cause = %e, "receipts not delivered; kept for later");
            }
            let mut step = Ok(());
            let asked = *verify.borrow_and_update();
            let due = asked != seen || verify_at.is_some_and(|t| t <= tokio::time::Instant::now());
            if step.is_ok() && due {
                seen = asked;
                verify_at = next_check();
                if let Err(e) = super::complete::verify(&node, &peer, c, announced).await {
                    tracing::warn!(cause = %e, "completeness check failed");
                    fed.peer_update(&peer, |p| p.verify_error = e.clone());
                    step = Err(e);
                }
            }
            // Pull (then subscribe) until the stream fails or we must
            // re-handshake (new manifest, sync or check requested).
            if step.is_ok() {
                step = super::pull::pull(
                    &node,
                    &peer,
                    c,
                    &mut stop,
                    &mut sync,
                    &mut verify,
                    verify_at,
                )
                .await;
            }
            match step {
                Err(e) => result = Err(e),
                Ok(()) => {
                    if *stop.borrow() {
                        return;
                    }
                    continue;
                }
            }
        }
        state = match result {
            Ok(_) => Link::Up,
            Err(e) => {
                client = None;
                let n = match state {
                    Link::Starting | Link::Up => 0,
                    Link::Failing(n) => n + 1,
                };
                if n == 0 || n.is_power_of_two() {
                    tracing::warn!(cause = %e, attempt = n + 1, "peer link failed");
                }
                fed.peer_update(&peer, |p| {
                    p.state = "failing".into();
                    p.last_error = e.clone();
                });
                Link::Failing(n)
            }
        };
        let wait = match state {
            Link::Starting | Link::Up => every,
            Link::Failing(n) => backoff(n),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            r = changes.changed() => if r.is_err() { return },
            r = verify.changed() => if r.is_err() { return },
            r = sync.changed() => if r.is_err() { return },
            () = stopped(&mut stop) => return,
        }
    }
}
