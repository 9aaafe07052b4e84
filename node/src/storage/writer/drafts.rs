//! Draft digests: a local draft signed once is not signed and stored
//! again (a re-run import reports its lines as duplicates). Since schema 5
//! a draft's digest is a posting entry of the index under
//! [`keys::draft_prefix`], so a bulk batch packs its digests into rare
//! blocks (about one key per 16 records instead of one each, and no
//! random-key tree to keep in memory); data dirs of older schemas keep
//! their `draftkey_id` entries, which are still read.

use super::Writer;
use crate::record::RecordId;
use crate::storage::{StoreError, feed_entry, keys, rare};

impl Writer {
    /// The held record signed from the draft with digest `key`, if any.
    pub(super) fn draft_held(&self, key: &[u8; 32]) -> Result<Option<RecordId>, StoreError> {
        if let Some(id) = self.pending_drafts.get(key)
            && self.held(id)?
        {
            return Ok(Some(*id));
        }
        for e in rare::all_entries(&self.t, &keys::draft_prefix(key))? {
            let seq = keys::entry_seq(&e);
            let Some(row) = self.t.records.get(seq.to_be_bytes())? else {
                continue;
            };
            return Ok(Some(feed_entry(seq, &row)?.id));
        }
        if let Some(v) = self.t.drafts.get(key)?
            && let Some(id) = RecordId::from_slice(&v)
            && self.held(&id)?
        {
            return Ok(Some(id));
        }
        Ok(None)
    }

    /// Indexes the digest of the draft the record at `seq` was signed from.
    pub(super) fn index_draft(&mut self, key: &[u8; 32], id: RecordId, created_at: i64, seq: u64) {
        self.new_index
            .entry(keys::draft_prefix(key))
            .or_default()
            .push(keys::entry(created_at, seq));
        self.pending_drafts.insert(*key, id);
    }
}
