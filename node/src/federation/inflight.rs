//! Records on their way in: the ids that a pull received in full and has
//! not stored yet, node-wide. A pull that is announced one of them by
//! another peer waits for that copy instead of fetching a second one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::record::RecordId;

/// The ids in flight, each with the number of pulls holding it.
#[derive(Debug)]
pub struct InFlight {
    ids: Mutex<HashMap<RecordId, usize>>,
    /// Bumped whenever ids leave.
    left: watch::Sender<u64>,
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight {
            ids: Mutex::new(HashMap::new()),
            left: watch::channel(0).0,
        }
    }
}

/// Holds ids in flight until it is dropped (once stored, or given up).
#[derive(Debug)]
pub struct InFlightGuard {
    owner: Arc<InFlight>,
    ids: Vec<RecordId>,
}

impl InFlight {
    /// Marks `ids` in flight until the guard is dropped.
    pub fn hold(self: &Arc<Self>, ids: Vec<RecordId>) -> InFlightGuard {
        if let Ok(mut map) = self.ids.lock() {
            for id in &ids {
                *map.entry(*id).or_insert(0) += 1;
            }
        }
        InFlightGuard {
            owner: self.clone(),
            ids,
        }
    }

    /// Of `ids`, those in flight now.
    pub fn of(&self, ids: &[RecordId]) -> Vec<RecordId> {
        let Ok(map) = self.ids.lock() else {
            return Vec::new();
        };
        ids.iter()
            .filter(|id| map.contains_key(id))
            .copied()
            .collect()
    }

    /// Waits until none of `ids` is in flight, or until `deadline`.
    pub async fn settled(&self, ids: &[RecordId], deadline: tokio::time::Instant) {
        let mut left = self.left.subscribe();
        while !self.of(ids).is_empty() {
            match tokio::time::timeout_at(deadline, left.changed()).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.ids.is_empty() {
            return;
        }
        if let Ok(mut map) = self.owner.ids.lock() {
            for id in &self.ids {
                if let Some(n) = map.get_mut(id) {
                    *n -= 1;
                    if *n == 0 {
                        map.remove(id);
                    }
                }
            }
        }
        self.owner.left.send_modify(|g| *g += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> RecordId {
        RecordId::from_bytes([n; 32])
    }

    #[tokio::test]
    async fn ids_stay_in_flight_while_any_guard_holds_them() {
        let f = Arc::new(InFlight::default());
        let a = f.hold(vec![id(1), id(2)]);
        let b = f.hold(vec![id(2)]);
        assert_eq!(f.of(&[id(1), id(2), id(3)]), vec![id(1), id(2)]);
        drop(a);
        assert_eq!(f.of(&[id(1), id(2)]), vec![id(2)]);
        let waiting = {
            let f = f.clone();
            tokio::spawn(async move {
                let far = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
                f.settled(&[id(2)], far).await;
            })
        };
        drop(b);
        waiting.await.expect("settled once the last guard went");
        assert!(f.of(&[id(2)]).is_empty());
    }

    #[tokio::test]
    async fn a_wait_ends_at_its_deadline() {
        let f = Arc::new(InFlight::default());
        let _held = f.hold(vec![id(7)]);
        let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(20);
        f.settled(&[id(7)], soon).await;
        assert_eq!(f.of(&[id(7)]), vec![id(7)]);
    }
}
