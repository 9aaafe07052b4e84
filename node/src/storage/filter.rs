//! This agency's deconfliction filter (OPRF tokens of the correlation keys
//! of its own records, per epoch) and, asker side, the answers and open
//! follow-ups of its own questions. A new epoch writes a fresh key space;
//! the old one is dropped a slice at a time.

use prost::Message;
use wildnet_proto::v1 as pb;

use super::{KvWrite, Side, Store, StoreError, keys};
use crate::deconfliction::Token;

/// Where the filter stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FilterState {
    /// The epoch: bumped by every rebuild.
    pub epoch: u64,
    /// Tokens in the filter at this epoch.
    pub count: u64,
    /// The feed position up to which records were added.
    pub mark: u64,
    /// The OPRF key the tokens were made with.
    pub fingerprint: [u8; 8],
    /// A record of ours left (retraction, expiry): rebuild.
    pub dirty: bool,
}

impl FilterState {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(33);
        v.extend_from_slice(&self.epoch.to_be_bytes());
        v.extend_from_slice(&self.count.to_be_bytes());
        v.extend_from_slice(&self.mark.to_be_bytes());
        v.extend_from_slice(&self.fingerprint);
        v.push(u8::from(self.dirty));
        v
    }

    fn decode(v: &[u8]) -> Option<FilterState> {
        if v.len() != 33 {
            return None;
        }
        let mut fingerprint = [0u8; 8];
        fingerprint.copy_from_slice(&v[24..32]);
        Some(FilterState {
            epoch: keys::u64_from(&v[..8]),
            count: keys::u64_from(&v[8..16]),
            mark: keys::u64_from(&v[16..24]),
            fingerprint,
            dirty: v[32] != 0,
        })
    }
}

fn state_write(s: &FilterState) -> KvWrite {
    (
        Side::Meta,
        keys::FILTER_KEY.as_bytes().to_vec(),
        Some(s.encode()),
    )
}

impl Store {
    /// The filter's state; `None` before the first build.
    pub fn filter_state(&self) -> Result<Option<FilterState>, StoreError> {
        Ok(self
            .trees()
            .meta
            .get(keys::FILTER_KEY)?
            .and_then(|v| FilterState::decode(&v)))
    }

    /// The correlation key behind a token of epoch `epoch`.
    pub fn filter_key(&self, epoch: u64, token: &[u8]) -> Result<Option<String>, StoreError> {
        Ok(self
            .trees()
            .filter_keys
            .get(keys::filter_epoch_key(epoch, token))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Up to about `limit` tokens (16 bytes each) of epoch `epoch` from
    /// position `since`. The log keeps one key per run of tokens added
    /// together, `[epoch][position of its first token]`.
    pub fn filter_tokens(
        &self,
        epoch: u64,
        since: u64,
        limit: usize,
    ) -> Result<Vec<u8>, StoreError> {
        let log = &self.trees().filter_log;
        // The run holding `since` starts at or before it.
        let past = keys::filter_epoch_key(epoch, &since.saturating_add(1).to_be_bytes());
        let first = log
            .get_lt(past)?
            .map(|(k, _)| k.to_vec())
            .filter(|k| k.starts_with(&epoch.to_be_bytes()))
            .unwrap_or_else(|| keys::filter_epoch_key(epoch, &[]));
        let mut out = Vec::new();
        for kv in log.range(first..keys::filter_epoch_key(epoch + 1, &[])) {
            let (k, v) = kv?;
            let start = keys::u64_from(&k[8..]);
            let skip = usize::try_from(since.saturating_sub(start)).unwrap_or(usize::MAX);
            out.extend_from_slice(v.get(skip.saturating_mul(16)..).unwrap_or_default());
            if out.len() >= limit.saturating_mul(16) {
                break;
            }
        }
        Ok(out)
    }

    /// Adds tokens (the ones not in the filter yet) and writes the new
    /// state, in one durable write.
    pub async fn filter_add(
        &self,
        mut state: FilterState,
        tokens: Vec<(Token, String)>,
    ) -> Result<FilterState, StoreError> {
        let mut writes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut run = Vec::new();
        let start = state.count;
        for (t, key) in tokens {
            let k = keys::filter_epoch_key(state.epoch, &t);
            if !seen.insert(t) || self.trees().filter_keys.contains_key(&k)? {
                continue;
            }
            writes.push((Side::FilterKeys, k, Some(key.into_bytes())));
            run.extend_from_slice(&t);
            state.count += 1;
        }
        if !run.is_empty() {
            let log = keys::filter_epoch_key(state.epoch, &start.to_be_bytes());
            writes.push((Side::FilterLog, log, Some(run)));
        }
        writes.push(state_write(&state));
        self.write_kv(writes).await?;
        Ok(state)
    }

    /// Writes the filter's state alone (a new epoch, a dirty mark).
    pub async fn filter_set_state(&self, state: &FilterState) -> Result<(), StoreError> {
        self.write_kv(vec![state_write(state)]).await
    }

    /// Drops up to `limit` entries of epochs before `epoch`; how many.
    pub async fn filter_drop_before(&self, epoch: u64, limit: usize) -> Result<usize, StoreError> {
        let end = keys::filter_epoch_key(epoch, &[]);
        let mut writes: Vec<KvWrite> = Vec::new();
        for (tree, side) in [
            (&self.trees().filter_keys, Side::FilterKeys),
            (&self.trees().filter_log, Side::FilterLog),
        ] {
            for k in tree.range(..end.clone()).keys().take(limit) {
                writes.push((side, k?.to_vec(), None));
            }
        }
        let n = writes.len();
        if n > 0 {
            self.write_kv(writes).await?;
        }
        Ok(n)
    }

    /// Keeps this node's latest answer from `peer` about a selector.
    pub async fn put_followup(&self, a: &pb::DeconflictAnswer) -> Result<(), StoreError> {
        let k = keys::followup_key(&a.peer, &a.selector);
        self.write_kv(vec![(Side::FollowUps, k, Some(a.encode_to_vec()))])
            .await
    }

    /// Every kept answer (open follow-ups included), by peer and selector.
    pub fn followups(&self) -> Result<Vec<pb::DeconflictAnswer>, StoreError> {
        self.trees()
            .followups
            .iter()
            .values()
            .map(|v| {
                pb::DeconflictAnswer::decode(v?.as_ref())
                    .map_err(|e| StoreError::Corrupt(format!("follow-up: {e}")))
            })
            .collect()
    }
}
