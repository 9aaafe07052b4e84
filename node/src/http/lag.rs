//! Every peer's lag (records of its feed this node has not pulled yet)
//! over the last hour, sampled by the HTTP listener for the dashboard's
//! plot. In memory: it starts empty at each start.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use wildnet_proto::v1 as pb;

/// How far back the history goes, ms.
pub(super) const WINDOW_MS: i64 = 3_600_000;

/// Per peer, `(unix ms, lag)` samples of the last [`WINDOW_MS`].
#[derive(Debug, Default)]
pub struct LagHistory {
    peers: Mutex<BTreeMap<String, VecDeque<(i64, u64)>>>,
}

impl LagHistory {
    /// Adds a sample of every peer at `now`, dropping samples older than
    /// the window.
    pub fn sample(&self, now: i64, peers: &[pb::PeerState]) {
        let Ok(mut m) = self.peers.lock() else {
            return;
        };
        for p in peers {
            let lag = p.peer_head.saturating_sub(p.cursor);
            let q = m.entry(p.agency.clone()).or_default();
            q.push_back((now, lag));
            while q.front().is_some_and(|(t, _)| *t < now - WINDOW_MS) {
                q.pop_front();
            }
        }
    }

    /// A copy of the history.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<(i64, u64)>> {
        self.peers
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.iter().copied().collect()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_an_hour_of_each_peers_lag() {
        let h = LagHistory::default();
        let peer = |head, cursor| pb::PeerState {
            agency: "KE-KWS".into(),
            peer_head: head,
            cursor,
            ..Default::default()
        };
        h.sample(0, &[peer(10, 4)]);
        h.sample(WINDOW_MS, &[peer(12, 12)]);
        h.sample(WINDOW_MS + 1, &[peer(3, 5)]);
        let s = h.snapshot();
        assert_eq!(s["KE-KWS"], vec![(WINDOW_MS, 0), (WINDOW_MS + 1, 0)]);
    }
}
