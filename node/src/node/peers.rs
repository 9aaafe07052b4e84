//! Per-peer sync state: how far each peer's feed is pulled, the policy
//! epochs that make a peer re-pull when a sharing policy widens.

use super::{Node, NodeError};
use crate::policy;
use crate::storage::PeerWrite;

impl Node {
    /// How far this node has pulled `peer`'s feed.
    pub fn cursor(&self, peer: &str) -> Result<u64, NodeError> {
        Ok(self.store.cursor(peer)?)
    }

    /// Durably records how far `peer`'s feed is pulled.
    pub async fn set_cursor(&self, peer: &str, seq: u64) -> Result<(), NodeError> {
        let peer = peer.to_string();
        let write = PeerWrite::Cursor { peer, seq };
        Ok(self.store.write_peer_state(vec![write]).await?)
    }

    /// Pulls every peer's feed again from the start (ids dedupe).
    pub async fn reset_cursors(&self, why: &str) -> Result<(), NodeError> {
        let Some(fed) = &self.federation else {
            return Ok(());
        };
        let m = fed.current();
        let mut writes = Vec::new();
        for a in &m.body().agencies {
            if a.id != self.agency.as_str() {
                writes.push(PeerWrite::Cursor {
                    peer: a.id.clone(),
                    seq: 0,
                });
                fed.peer_update(&a.id, |p| p.cursor = 0);
            }
        }
        self.store.write_peer_state(writes).await?;
        tracing::info!(why, "re-pulling every peer from the start");
        self.audit_nowait("node", "re-pull", why.to_string());
        fed.sync_now();
        Ok(())
    }

    /// Asks for every peer's feed to be pulled again from the start, each
    /// at its next Hello (so no pull under way moves a cursor past it),
    /// and wakes the links.
    pub async fn repull_all(&self, why: &str) -> Result<(), NodeError> {
        let Some(fed) = &self.federation else {
            return Ok(());
        };
        let m = fed.current();
        let writes = m
            .body()
            .agencies
            .iter()
            .filter(|a| a.id != self.agency.as_str())
            .map(|a| PeerWrite::Repull {
                peer: a.id.clone(),
                why: Some(why.to_string()),
            })
            .collect();
        self.store.write_peer_state(writes).await?;
        fed.sync_now();
        Ok(())
    }

    /// This node's policy epoch towards `peer`.
    pub fn policy_epoch(&self, peer: &str) -> u64 {
        self.store
            .policy(peer)
            .ok()
            .flatten()
            .map_or(0, |p| p.epoch)
    }

    /// Compares the `[federation.share]` policy towards each agency of the
    /// manifest with the one last in force, and bumps that peer's policy
    /// epoch when it widened (the peer then re-pulls from the start).
    /// Returns the peers whose epoch grew.
    pub async fn refresh_policy_epochs(&self) -> Result<Vec<String>, NodeError> {
        let Some(fed) = &self.federation else {
            return Ok(Vec::new());
        };
        let m = fed.current();
        let mut bumped = Vec::new();
        let mut writes = Vec::new();
        for a in &m.body().agencies {
            if a.id == self.agency.as_str() {
                continue;
            }
            let now = fed.policy_for(&a.id);
            let before = self.store.policy(&a.id).ok().flatten();
            let epoch = match &before {
                None => 0,
                Some(b) if policy::widens(&policy::from_pb(b), now) => {
                    bumped.push(a.id.clone());
                    b.epoch + 1
                }
                Some(b) if &policy::from_pb(b) == now => continue,
                Some(b) => b.epoch,
            };
            writes.push(PeerWrite::Policy {
                peer: a.id.clone(),
                policy: policy::to_pb(now, epoch),
            });
        }
        if !writes.is_empty() {
            self.store.write_peer_state(writes).await?;
        }
        for p in &bumped {
            tracing::info!(peer = %p, epoch = self.policy_epoch(p), "sharing policy widened: the peer will re-pull");
            self.audit_nowait(
                "node",
                "policy-widened",
                format!("{p}: epoch {}", self.policy_epoch(p)),
            );
        }
        Ok(bumped)
    }

    /// Takes the peer's Hello: when its policy epoch towards us grew (its
    /// policy widened) or its feed restarted below our cursor, re-pulls it
    /// from the start. Returns why, when it did.
    pub async fn check_peer_epoch(
        &self,
        peer: &str,
        epoch: u64,
        head: u64,
    ) -> Result<Option<String>, NodeError> {
        let seen = self.store.peer_epoch(peer)?;
        let cursor = self.cursor(peer)?;
        let asked = self.store.repull(peer)?;
        let why = if let Some(why) = &asked {
            Some(why.clone())
        } else if epoch > seen {
            Some(format!(
                "{peer} widened its sharing policy (epoch {seen} -> {epoch})"
            ))
        } else if head < cursor {
            Some(format!(
                "{peer}'s feed ends at {head}, before this node's cursor {cursor} (its data was reset)"
            ))
        } else {
            None
        };
        if why.is_some() || epoch != seen {
            let mut writes = vec![PeerWrite::Epoch {
                peer: peer.to_string(),
                epoch,
            }];
            if asked.is_some() {
                writes.push(PeerWrite::Repull {
                    peer: peer.to_string(),
                    why: None,
                });
            }
            if why.is_some() {
                let reset = PeerWrite::Cursor {
                    peer: peer.to_string(),
                    seq: 0,
                };
                writes.insert(0, reset);
            }
            self.store.write_peer_state(writes).await?;
        }
        if let Some(w) = &why {
            tracing::info!(peer, reason = %w, "re-pulling the peer from the start");
            self.audit_nowait(&format!("peer:{peer}"), "re-pull", w.clone());
        }
        Ok(why)
    }

    /// `wildnet sync`: wakes the link to every peer (or to `peer` only) to
    /// pull now, and to check completeness when `verify`. With `wait`,
    /// returns once each has said Hello after the request and its cursor
    /// has reached the feed head that Hello reported (and, with `verify`,
    /// the check ran), or fails after `wait` naming who is behind and why.
    pub async fn sync(
        &self,
        peer: &str,
        verify: bool,
        wait: Option<std::time::Duration>,
    ) -> Result<(), NodeError> {
        let fed = self.federation.as_ref().ok_or(NodeError::NotFederated)?;
        let wanted: Vec<String> = fed
            .wanted_peers()
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| peer.is_empty() || *id == peer)
            .collect();
        if !peer.is_empty() && wanted.is_empty() {
            return Err(NodeError::Unknown(format!(
                "{peer} is not a peer of this node"
            )));
        }
        let asked = crate::now_ms();
        if verify {
            fed.verify_now();
        }
        fed.sync_now();
        let Some(limit) = wait else {
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let states = fed.peer_states();
            let caught_up = |id: &String| {
                // A Hello after the request, and the cursor at the feed
                // head that Hello reported (a mark sent before the request
                // but read after it does not count).
                states.iter().any(|p| {
                    &p.agency == id
                        && p.last_success >= asked
                        && p.cursor >= p.peer_head
                        && (!verify || p.verified_at >= asked)
                })
            };
            if wanted.iter().all(caught_up) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let behind: Vec<String> = wanted
                    .iter()
                    .filter(|id| !caught_up(id))
                    .map(|id| behind_because(&states, id))
                    .collect();
                return Err(NodeError::Timeout(format!(
                    "not caught up after {}s with: {} (see `wildnet peers`)",
                    limit.as_secs(),
                    behind.join(", ")
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// A peer that is behind, with its last error if it has one.
fn behind_because(states: &[wildnet_proto::v1::PeerState], id: &str) -> String {
    let why = states
        .iter()
        .find(|p| p.agency == id)
        .map(|p| p.last_error.clone())
        .unwrap_or_default();
    if why.is_empty() {
        id.to_string()
    } else {
        format!("{id} ({why})")
    }
}
