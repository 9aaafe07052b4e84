//! Deconfliction, the answering side and the asker's bookkeeping.
//!
//! - The **filter**: the OPRF tokens of the correlation keys of the records
//!   this agency authored (LOCAL ones unless `answer_local = false`),
//!   kept up to date by following the feed; rebuilt at a new epoch when a
//!   record of ours leaves (retraction, expiry) or the key changes.
//!   Relayed records are answered for by their authors.
//! - **Step 1**: a peer's blinded selectors are evaluated, rate-limited per
//!   peer by a token bucket, and audited by asker, count and epoch only.
//! - **Step 2**: for tokens that hit, the contact point, a reference, and
//!   the ids of the matching records the asker may hold.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use wildnet_proto::v1 as pb;

use super::correlate::keys_of;
use super::{Node, NodeError};
use crate::config::DeconflictionSettings;
use crate::deconfliction::{ELEMENT_LEN, OprfKey, Token};
use crate::storage::{FilterState, Stored};

/// Records read per durable step of the filter.
const CHUNK: usize = 512;
/// Tokens per filter chunk on the wire.
pub const FILTER_CHUNK: usize = 4096;
/// Most selectors in one question.
pub const MAX_QUESTION: usize = 1000;

/// A token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

/// The node's deconfliction state.
pub struct Deconfliction {
    key: OprfKey,
    settings: DeconflictionSettings,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// One filter update at a time (the feed loop, a peer's fetch).
    update: tokio::sync::Mutex<()>,
    /// The epoch whose filter was last brought up to the feed head: until
    /// a new epoch (a key change, a retraction) is built whole, questions
    /// wait rather than get a wrong `NO_HIT`.
    ready: std::sync::atomic::AtomicU64,
    /// The asker's copies of peers' filters: epoch and tokens.
    pub(crate) copies: tokio::sync::Mutex<HashMap<String, (u64, std::collections::HashSet<Token>)>>,
}

impl std::fmt::Debug for Deconfliction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deconfliction").finish_non_exhaustive()
    }
}

impl Deconfliction {
    /// With the node's key and settings.
    pub fn new(key: OprfKey, settings: DeconflictionSettings) -> Deconfliction {
        Deconfliction {
            key,
            settings,
            buckets: Mutex::new(HashMap::new()),
            update: tokio::sync::Mutex::new(()),
            ready: std::sync::atomic::AtomicU64::new(0),
            copies: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &DeconflictionSettings {
        &self.settings
    }

    /// Takes `n` from `peer`'s bucket, or says when it will hold them.
    fn take(&self, peer: &str, n: usize) -> Result<(), NodeError> {
        let cap = f64::from(self.settings.peer_burst);
        let per_sec = f64::from(self.settings.peer_per_day) / 86_400.0;
        let mut all = self
            .buckets
            .lock()
            .map_err(|_| NodeError::Internal("rate limiter poisoned".into()))?;
        let now = Instant::now();
        let b = all.entry(peer.to_string()).or_insert(Bucket {
            level: cap,
            at: now,
        });
        b.level = (b.level + now.duration_since(b.at).as_secs_f64() * per_sec).min(cap);
        b.at = now;
        let want = n as f64;
        if want > b.level {
            let wait = if per_sec > 0.0 {
                format!("in about {:.0} s", (want - b.level) / per_sec)
            } else {
                "never ([deconfliction] peer_per_day = 0)".into()
            };
            return Err(NodeError::Exhausted(format!(
                "deconfliction budget spent: {n} selectors asked, {:.0} left of {cap:.0}; it refills {wait} \
                 ([deconfliction] peer_burst = {}, peer_per_day = {})",
                b.level, self.settings.peer_burst, self.settings.peer_per_day
            )));
        }
        b.level -= want;
        Ok(())
    }
}

impl Node {
    /// The deconfliction state.
    pub fn deconfliction(&self) -> &Deconfliction {
        &self.deconfliction
    }

    /// Whether a stored record belongs in this agency's filter.
    fn answers_for(&self, s: &Stored) -> bool {
        let b = s.record.body();
        b.author == self.agency.as_str()
            && (self.deconfliction.settings.answer_local
                || b.handling.as_ref().map(|h| h.scope)
                    != Some(wildnet_proto::v1::Scope::Local as i32))
    }

    /// Brings the filter up to the feed head: a rebuild at a new epoch
    /// when it is marked dirty (one of our records left: a retraction of
    /// ours in the feed, an expiry) or the key changed, then the records
    /// stored since the mark. Returns the state.
    pub async fn update_filter(&self) -> Result<FilterState, NodeError> {
        let _one = self.deconfliction.update.lock().await;
        loop {
            let s = self.update_filter_once().await?;
            if !s.dirty {
                self.deconfliction
                    .ready
                    .store(s.epoch, std::sync::atomic::Ordering::Release);
                return Ok(s);
            }
        }
    }

    async fn update_filter_once(&self) -> Result<FilterState, NodeError> {
        let fp = self.deconfliction.key.fingerprint();
        let mut state = match self.store.filter_state()? {
            Some(s) if s.fingerprint == fp && !s.dirty => s,
            old => {
                let epoch = old.map_or(1, |s| s.epoch + 1);
                let fresh = FilterState {
                    epoch,
                    fingerprint: fp,
                    ..Default::default()
                };
                self.store.filter_set_state(&fresh).await?;
                tracing::info!(epoch, "deconfliction filter: building a new epoch");
                fresh
            }
        };
        while self.store.filter_drop_before(state.epoch, 8192).await? > 0 {}
        let head = self.store.feed_head()?;
        while state.mark < head {
            let chunk = self.store.feed_after(state.mark, head, CHUNK)?;
            let mut tokens = Vec::new();
            for s in chunk.iter().filter(|s| self.answers_for(s)) {
                if crate::record::kind_of(s.record.body()) == "retraction" {
                    state.dirty = true;
                    continue;
                }
                for key in keys_of(s) {
                    let t = self
                        .deconfliction
                        .key
                        .token(&key)
                        .map_err(NodeError::Internal)?;
                    tokens.push((t, key));
                }
            }
            state.mark = if chunk.len() < CHUNK {
                head
            } else {
                chunk.last().map_or(head, |s| s.seq)
            };
            state = self.store.filter_add(state, tokens).await?;
        }
        Ok(state)
    }

    /// Marks the filter for a rebuild (a record of ours left the store).
    pub async fn filter_dirty(&self) -> Result<(), NodeError> {
        if let Some(mut s) = self.store.filter_state()? {
            s.dirty = true;
            self.store.filter_set_state(&s).await?;
        }
        Ok(())
    }

    /// The filter from `since` at the current epoch (from 0 when the
    /// caller's `epoch` is not it): `(epoch, start, tokens, total)`.
    pub fn filter_chunks(
        &self,
        epoch: u64,
        since: u64,
    ) -> Result<(u64, u64, Vec<u8>, u64), NodeError> {
        let s = self.store.filter_state()?.unwrap_or_default();
        let start = if epoch == s.epoch {
            since.min(s.count)
        } else {
            0
        };
        let tokens = self.store.filter_tokens(s.epoch, start, FILTER_CHUNK)?;
        Ok((s.epoch, start, tokens, s.count))
    }

    /// Step 1 for `peer`: evaluates blinded selectors (it cannot see
    /// them), within its budget; audited by count and epoch only.
    pub fn evaluate_for(
        &self,
        peer: &str,
        blinded: &[Vec<u8>],
    ) -> Result<(Vec<Vec<u8>>, u64), NodeError> {
        if blinded.is_empty() || blinded.len() > MAX_QUESTION {
            return Err(NodeError::Invalid(format!(
                "a question holds 1-{MAX_QUESTION} blinded selectors, not {}",
                blinded.len()
            )));
        }
        if let Some(b) = blinded.iter().find(|b| b.len() != ELEMENT_LEN) {
            return Err(NodeError::Invalid(format!(
                "a blinded selector is {ELEMENT_LEN} bytes, not {}",
                b.len()
            )));
        }
        let state = self.store.filter_state()?.unwrap_or_default();
        let ready = self
            .deconfliction
            .ready
            .load(std::sync::atomic::Ordering::Acquire);
        if state.epoch != ready || state.fingerprint != self.deconfliction.key.fingerprint() {
            return Err(NodeError::Unavailable(format!(
                "{}'s deconfliction filter is being rebuilt (a new key or a withdrawn record): ask again in a moment",
                self.agency
            )));
        }
        let epoch = state.epoch;
        let t = self.store.telemetry();
        if let Err(e) = self.deconfliction.take(peer, blinded.len()) {
            crate::telemetry::Telemetry::inc(
                &t.limit_refusals,
                crate::telemetry::label("setting", "deconfliction.peer_per_day"),
            );
            self.audit_nowait(
                peer,
                "deconflict-refused",
                format!("{} selectors, budget spent", blinded.len()),
            );
            return Err(e);
        }
        let out = blinded
            .iter()
            .map(|b| {
                self.deconfliction
                    .key
                    .evaluate_blinded(b)
                    .map_err(NodeError::Invalid)
            })
            .collect::<Result<Vec<_>, _>>()?;
        t.deconfliction
            .get_or_create(&vec![
                ("direction", "answered".into()),
                ("peer", peer.to_string()),
            ])
            .inc_by(out.len() as u64);
        self.audit_nowait(
            peer,
            "deconflict-evaluate",
            format!("{} selectors, epoch {epoch}", out.len()),
        );
        Ok((out, epoch))
    }

    /// Step 2 for `peer`: per token that is in this epoch's filter, the
    /// contact point, a reference, and the ids of matching records of
    /// ours that `peer` may hold. Both sides audit it (this side may name
    /// the value: it is its own).
    pub fn follow_up_for(
        &self,
        peer: &str,
        epoch: u64,
        tokens: &[Vec<u8>],
    ) -> Result<Vec<pb::FollowUpHit>, NodeError> {
        let fed = self.federation.as_ref().ok_or(NodeError::NotFederated)?;
        let state = self.store.filter_state()?.unwrap_or_default();
        if epoch != state.epoch {
            return Err(NodeError::Refused(format!(
                "filter epoch {epoch} is not the current one ({}): fetch the filter again and ask anew",
                state.epoch
            )));
        }
        let m = fed.current();
        let contact = m
            .agency(self.agency.as_str())
            .map(|a| a.contact.clone())
            .unwrap_or_default();
        let now = crate::now_ms();
        let mut hits = Vec::new();
        for t in tokens.iter().take(MAX_QUESTION) {
            let Some(key) = self.store.filter_key(state.epoch, t)? else {
                continue;
            };
            let (held, _) = self.store.holding(&key, 1000)?;
            let ours: Vec<&Stored> = held.iter().filter(|s| self.answers_for(s)).collect();
            let ids: Vec<String> = ours
                .iter()
                .filter(|s| crate::policy::in_audience(s.record.body(), peer, &m, now))
                .map(|s| s.record.id().to_hex())
                .collect();
            let reference = format!("{}/DX-{}", self.agency, self.store.next_queue_number()?);
            self.audit_nowait(
                peer,
                "deconflict-followup",
                format!(
                    "{reference}: {key}, {} of {} matching records in its audience",
                    ids.len(),
                    ours.len()
                ),
            );
            hits.push(pb::FollowUpHit {
                token: t.clone(),
                contact: contact.clone(),
                reference,
                records: ids,
            });
        }
        Ok(hits)
    }
}
