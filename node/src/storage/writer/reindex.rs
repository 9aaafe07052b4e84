//! The background re-index of selectors after a normaliser change.
//!
//! Correlation keys are this node's own (`record::selector`): when
//! [`keys::NORMALISER`] differs from the version that indexed the data
//! dir, the writer re-indexes in the background. Rows are read in feed
//! order, a few whole batches at a time, and each row's new keys are
//! written as extra posting blocks of the row's own index batch, so a
//! later deletion finds them like any other entry. Signed bytes are not
//! touched. Then the older versions' keys are dropped, a slice at a time
//! (their own blocks, then their items in rare blocks), and the new version
//! is recorded. Progress is kept in `meta`, so a
//! restart resumes; a step interrupted by a crash writes the same keys
//! again.

use std::collections::HashMap;

use super::Writer;
use crate::record::terms::{self, Field};
use crate::storage::{StoreError, Trees, add_block_refs, decode_row, keys, rare};

/// Rows read per step (rounded up to the end of a batch).
const STEP_ROWS: usize = 1024;
/// Keys of older normalisers removed per step.
const STEP_DROPS: usize = 8192;
/// Rare blocks rewritten per step.
const STEP_RARE: usize = 1024;

/// Where a re-index stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reindex {
    /// The next row to re-index.
    pub(crate) next: u64,
    /// Rows from here on were indexed by this normaliser.
    pub(crate) until: u64,
}

impl Reindex {
    /// The re-index a data dir needs: `None` when its selectors are keyed
    /// by this normaliser. A store with no records just records it.
    pub(crate) fn needed(t: &Trees, next_seq: u64) -> Result<Option<Reindex>, StoreError> {
        if let Some(r) = Reindex::stored(t)? {
            return Ok(Some(r));
        }
        let version = t
            .meta
            .get(keys::NORMALISER_KEY)?
            .and_then(|v| v.first().copied())
            .unwrap_or(1);
        if version == keys::NORMALISER {
            return Ok(None);
        }
        if t.records.is_empty() {
            t.meta.insert(keys::NORMALISER_KEY, &[keys::NORMALISER])?;
            return Ok(None);
        }
        let r = Reindex {
            next: 1,
            until: next_seq,
        };
        r.save(t)?;
        tracing::warn!(
            from = version,
            to = keys::NORMALISER,
            records = t.records.len(),
            "the selector normaliser changed: re-indexing correlation keys in the background"
        );
        Ok(Some(r))
    }

    /// The re-index in progress, from `meta`.
    pub(crate) fn stored(t: &Trees) -> Result<Option<Reindex>, StoreError> {
        Ok(t.meta.get(keys::REINDEX_KEY)?.and_then(|v| {
            (v.len() == 16).then(|| Reindex {
                next: keys::u64_from(&v[..8]),
                until: keys::u64_from(&v[8..]),
            })
        }))
    }

    fn save(&self, t: &Trees) -> Result<(), StoreError> {
        let mut v = self.next.to_be_bytes().to_vec();
        v.extend_from_slice(&self.until.to_be_bytes());
        t.meta.insert(keys::REINDEX_KEY, v)?;
        Ok(())
    }
}

impl Writer {
    /// One step of the re-index, flushed; true while more remain.
    pub(super) fn reindex_step(&mut self) -> Result<bool, StoreError> {
        let Some(mut r) = self.reindex else {
            return Ok(false);
        };
        if r.next < r.until {
            r.next = self.reindex_rows(r)?;
            r.save(&self.t)?;
        } else if !self.drop_old_keys()? {
            self.t.meta.remove(keys::REINDEX_KEY)?;
            self.t
                .meta
                .insert(keys::NORMALISER_KEY, &[keys::NORMALISER])?;
            tracing::info!(
                version = keys::NORMALISER,
                "selectors re-indexed: correlation keys are this normaliser's"
            );
            self.reindex = None;
            self.flush()?;
            return Ok(false);
        }
        self.reindex = Some(r);
        self.flush()?;
        Ok(true)
    }

    /// Writes the new keys of the rows from `r.next` (whole batches, about
    /// [`STEP_ROWS`]); returns the row after the last one read.
    fn reindex_rows(&mut self, r: Reindex) -> Result<u64, StoreError> {
        let mut blocks: HashMap<u64, HashMap<Vec<u8>, Vec<keys::Entry>>> = HashMap::new();
        let mut last_batch = None;
        let mut next = r.until;
        let range = r.next.to_be_bytes()..r.until.to_be_bytes();
        for (read, kv) in self.t.records.range(range).enumerate() {
            let (k, v) = kv?;
            let seq = keys::u64_from(&k);
            let (row, record) = decode_row(seq, &v)?;
            if read >= STEP_ROWS && last_batch != Some(row.index_batch) {
                next = seq;
                break;
            }
            last_batch = Some(row.index_batch);
            let e = keys::entry(record.body().created_at, seq);
            let batch = blocks.entry(row.index_batch).or_default();
            for (field, value) in terms::of(&record) {
                if field == Field::Selector {
                    batch
                        .entry(keys::index_prefix(field, &value))
                        .or_default()
                        .push(e);
                }
            }
        }
        for (batch, terms) in blocks {
            let (blocks, refs, _) = cut_reindex_blocks(terms, batch);
            for (key, value) in blocks {
                self.t.index.insert(key, value)?;
            }
            for (key, list) in refs {
                add_block_refs(&self.t.blockrefs, &key, list)?;
            }
        }
        Ok(next)
    }

    /// Removes up to [`STEP_DROPS`] keys of older normalisers; false when
    /// none were left.
    fn drop_old_keys(&mut self) -> Result<bool, StoreError> {
        let mut dropped = 0;
        for version in 1..keys::NORMALISER {
            let old: Vec<sled::IVec> = self
                .t
                .index
                .range(keys::selector_keys_of(version))
                .keys()
                .take(STEP_DROPS - dropped)
                .collect::<Result<_, _>>()?;
            dropped += old.len();
            for k in old {
                self.t.index.remove(k)?;
            }
            if dropped == STEP_DROPS {
                break;
            }
        }
        if dropped > 0 {
            return Ok(true);
        }
        self.drop_old_rare()
    }

    /// Rewrites up to [`STEP_RARE`] rare blocks without their correlation
    /// keys of older normalisers, from where the last step stopped (kept in
    /// `meta`); false when the last block was done.
    fn drop_old_rare(&mut self) -> Result<bool, StoreError> {
        let from = self
            .t
            .meta
            .get(keys::REINDEX_RARE_KEY)?
            .map(|v| v.to_vec())
            .unwrap_or_default();
        let stale = |p: &[u8]| {
            p.first() == Some(&(Field::Selector as u8)) && p.get(1) != Some(&keys::NORMALISER)
        };
        match rare::drop_items(&self.t.index, &from, STEP_RARE, stale)? {
            Some(next) => {
                self.t.meta.insert(keys::REINDEX_RARE_KEY, next)?;
                Ok(true)
            }
            None => {
                self.t.meta.remove(keys::REINDEX_RARE_KEY)?;
                Ok(false)
            }
        }
    }
}

/// The blocks of a batch's re-indexed keys and their references. Parts
/// are numbered from 0x8000, apart from the parts the batch itself wrote.
fn cut_reindex_blocks(
    terms: HashMap<Vec<u8>, Vec<keys::Entry>>,
    batch: u64,
) -> crate::storage::CutBlocks {
    let mut blocks = Vec::new();
    let mut refs: HashMap<[u8; 9], Vec<u8>> = HashMap::new();
    for (prefix, mut entries) in terms {
        let list = refs.entry(keys::block_ref_key(batch, &prefix)).or_default();
        for (key, value) in keys::blocks_from(&prefix, &mut entries, batch, 0x8000) {
            keys::push_block_ref(list, &key);
            blocks.push((key, value));
        }
    }
    blocks.sort_unstable();
    (blocks, refs, None)
}
