//! Deleting a record (a retraction, an expiry): its row, id entry, index
//! entries, counts and expiry entry go; its feed position stays a hole.

use super::Writer;
use crate::record::{Record, RecordId};
use crate::storage::{Row, StoreError, keys};

impl Writer {
    /// Removes a record and its index entries (its feed position stays a
    /// hole: readers of the feed skip it).
    pub(super) fn delete(&mut self, rec: &Record, sr: &Row) -> Result<(), StoreError> {
        let id = rec.id();
        self.add_terms(rec, -1, sr.index_batch, sr.seq)?;
        if self.pending.remove(&id).is_none() {
            // The row first: it is the commit point; an id left without
            // its row by a crash is dropped at the next start.
            self.t.records.remove(sr.seq.to_be_bytes())?;
            self.t.ids.remove(id.as_bytes())?;
        }
        if rec.body().expires_at != 0 {
            self.t
                .expiry
                .remove(keys::expiry_key(rec.body().expires_at, &id))?;
        }
        Ok(())
    }

    pub(super) fn purge(&mut self, now: i64) -> Result<u64, StoreError> {
        let end = keys::time_bytes(now.saturating_add(1));
        let due: Vec<(sled::IVec, sled::IVec)> = self
            .t
            .expiry
            .range(..end.to_vec())
            .collect::<Result<_, _>>()?;
        let mut n = 0;
        for (k, v) in due {
            self.t.expiry.remove(&k)?;
            if let Some(id) = RecordId::from_slice(&v)
                && let Some((sr, rec)) = self.load_stored(&id)?
            {
                self.delete(&rec, &sr)?;
                n += 1;
            }
        }
        Ok(n)
    }
}
