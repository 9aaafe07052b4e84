//! The deferred parts of a group commit: posting entries and counter
//! changes gathered per batch, and the crash-safe order they are written in
//! before the flush.

use super::Writer;
use crate::record::terms;
use crate::record::{Record, RecordId};
use crate::storage::{StoreError, keys};

impl Writer {
    /// Adds (`delta` = 1) or removes (-1) the index entries and counts of
    /// a record stored at `seq`; `batch` is the batch whose blocks hold (or
    /// will hold) them.
    pub(super) fn add_terms(
        &mut self,
        rec: &Record,
        delta: i64,
        batch: u64,
        seq: u64,
    ) -> Result<(), StoreError> {
        let e = keys::entry(rec.body().created_at, seq);
        let mut all = terms::of(rec);
        all.sort_unstable();
        all.dedup();
        for (field, value) in all {
            let prefix = keys::index_prefix(field, &value);
            if delta > 0 {
                self.new_index.entry(prefix).or_default().push(e);
            } else {
                let pending = self
                    .new_index
                    .get_mut(&prefix)
                    .and_then(|v| v.iter().position(|x| *x == e).map(|i| v.swap_remove(i)));
                if pending.is_none() {
                    self.unindex(&prefix, &e, batch)?;
                }
            }
            if terms::counted(field) {
                self.bump(keys::stat_key(field, &value), delta);
            }
        }
        Ok(())
    }

    /// Removes one entry from the stored block of `batch` for a term; the
    /// block goes when it is empty (its reference stays: readers of
    /// references skip blocks that are gone). An entry in none of the
    /// term's own blocks is in the batch's rare blocks.
    pub(super) fn unindex(
        &mut self,
        prefix: &[u8],
        e: &keys::Entry,
        batch: u64,
    ) -> Result<(), StoreError> {
        if !self.unindex_own(prefix, e, batch)? {
            crate::storage::rare::remove(&self.t, prefix, e, batch)?;
        }
        Ok(())
    }

    /// [`Writer::unindex`] from the term's own blocks; false if the entry
    /// was in none of them.
    fn unindex_own(
        &mut self,
        prefix: &[u8],
        e: &keys::Entry,
        batch: u64,
    ) -> Result<bool, StoreError> {
        let t = keys::time_from(e);
        let Some(list) = self.t.blockrefs.get(keys::block_ref_key(batch, prefix))? else {
            return Ok(false);
        };
        for bk in keys::block_refs_of(&list, prefix) {
            if keys::block_bounds(bk).is_some_and(|(max, min)| t < min || t > max) {
                continue;
            }
            let Some(v) = self.t.index.get(bk)? else {
                continue;
            };
            let kept: Vec<u8> = v
                .chunks_exact(keys::SUFFIX)
                .filter(|x| *x != e.as_slice())
                .flatten()
                .copied()
                .collect();
            if kept.len() == v.len() {
                continue;
            }
            if kept.is_empty() {
                self.t.index.remove(bk)?;
            } else {
                self.t.index.insert(bk, kept)?;
            }
            return Ok(true);
        }
        Ok(false)
    }

    pub(super) fn bump(&mut self, key: Vec<u8>, delta: i64) {
        *self.counts.entry(key).or_insert(0) += delta;
    }

    /// Writes the batch's deferred parts in crash-safe order: the feed's
    /// high-water mark, index entries (own and rare blocks) and counters,
    /// id → seq entries, then
    /// the records themselves. sled recovers a prefix of its log, so a
    /// record that survives a crash has all its index and id entries; an
    /// index entry whose record did not survive is skipped by readers (and
    /// its seq is never handed out again), an id entry is dropped at the
    /// next start. The record is the commit point.
    pub(super) fn write_batch(&mut self) -> Result<(), StoreError> {
        if self.next_seq > self.mark {
            self.t
                .meta
                .insert(keys::NEXT_SEQ_KEY, &self.next_seq.to_be_bytes())?;
            self.mark = self.next_seq;
        }
        let batch = self.batch.take().unwrap_or(self.next_seq);
        let records = self.pending.len();
        self.pending_drafts.clear();
        let (blocks, refs, filter) =
            crate::storage::cut_blocks(self.new_index.drain(), records, batch);
        if let Some(filter) = filter {
            self.t.rare.write(&self.t.index, filter)?;
        }
        // Blocks are independent keys: insert them from every core.
        let index = &self.t.index;
        for r in crate::limits::par_map(blocks, |(k, v)| index.insert(k, v)) {
            r?;
        }
        for (key, list) in refs {
            crate::storage::add_block_refs(&self.t.blockrefs, &key, list)?;
        }
        self.write_counts()?;
        let mut rows: Vec<(u64, RecordId, Vec<u8>)> = self
            .pending
            .drain()
            .map(|(id, (seq, bytes))| (seq, id, bytes))
            .collect();
        rows.sort_unstable_by_key(|r| r.0);
        for (seq, id, _) in &rows {
            self.t.ids.insert(id.as_bytes(), &seq.to_be_bytes())?;
        }
        for (seq, _, bytes) in rows {
            self.t.records.insert(seq.to_be_bytes(), bytes)?;
        }
        self.t.write_sides(std::mem::take(&mut self.pending_kv))?;
        Ok(())
    }

    /// Writes the batch's counter changes.
    pub(super) fn write_counts(&mut self) -> Result<(), StoreError> {
        for (key, delta) in std::mem::take(&mut self.counts) {
            if delta == 0 {
                continue;
            }
            let old = self
                .t
                .counts
                .get(&key)?
                .map(|v| keys::u64_from(&v))
                .unwrap_or(0);
            let new = (old as i64 + delta).max(0) as u64;
            if new == 0 {
                self.t.counts.remove(key)?;
            } else {
                self.t.counts.insert(key, &new.to_be_bytes())?;
            }
        }
        Ok(())
    }
}
