//! Reads: they go straight to sled from any thread.

use prost::Message;
use wildnet_proto::v1 as pb;

use super::{
    AuditVerdict, Query, QueryPage, Row, Store, StoreError, Stored, Trees, audit, keys, query,
};
use crate::record::{Envelope, Record, RecordId};

impl Store {
    /// A record by exact id.
    pub fn get(&self, id: &RecordId) -> Result<Option<Stored>, StoreError> {
        let Some(seq) = self.trees.ids.get(id.as_bytes())? else {
            return Ok(None);
        };
        match self.trees.records.get(seq)? {
            None => Ok(None),
            Some(v) => self.decode_stored(id, &v).map(Some),
        }
    }

    /// True when a record with this id is held: its copies can be dropped
    /// unread (the id is the SHA-256 of the body, verified at ingest).
    pub fn holds(&self, id: &RecordId) -> Result<bool, StoreError> {
        let Some(seq) = self.trees.ids.get(id.as_bytes())? else {
            return Ok(false);
        };
        Ok(self.trees.records.contains_key(seq)?)
    }

    /// The record at a feed position, if it is still held.
    pub(crate) fn get_seq(&self, seq: u64) -> Result<Option<Stored>, StoreError> {
        match self.trees.records.get(seq.to_be_bytes())? {
            None => Ok(None),
            Some(v) => {
                let (sr, record) = decode_row(seq, &v)?;
                self.stored(sr, record).map(Some)
            }
        }
    }

    fn stored(&self, sr: Row, record: Record) -> Result<Stored, StoreError> {
        let superseded_by = self
            .trees
            .superseded
            .get(record.id().as_bytes())?
            .and_then(|v| RecordId::from_slice(&v));
        Ok(Stored {
            record,
            seq: sr.seq,
            stored_at: sr.stored_at,
            superseded_by,
            received_from: sr.received_from,
        })
    }

    pub(crate) fn decode_stored(&self, id: &RecordId, v: &[u8]) -> Result<Stored, StoreError> {
        let (sr, record) = decode_record(id, v)?;
        self.stored(sr, record)
    }

    /// The tombstone of a retracted id.
    pub fn tombstone(&self, id: &RecordId) -> Result<Option<pb::Tombstone>, StoreError> {
        self.trees
            .tombstones
            .get(id.as_bytes())?
            .map(|v| {
                pb::Tombstone::decode(v.as_ref())
                    .map_err(|e| StoreError::Corrupt(format!("tombstone {id}: {e}")))
            })
            .transpose()
    }

    /// Resolves a full id or a unique prefix of 8+ hex characters, among
    /// held records and tombstones.
    pub fn resolve(&self, text: &str) -> Result<RecordId, StoreError> {
        let p = text.trim().to_ascii_lowercase();
        if p.len() < 8 || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::BadPrefix(text.to_string()));
        }
        let whole =
            hex::decode(&p[..p.len() / 2 * 2]).map_err(|_| StoreError::BadPrefix(p.clone()))?;
        let mut found: Vec<RecordId> = Vec::new();
        for tree in [&self.trees.ids, &self.trees.tombstones] {
            for kv in tree.scan_prefix(&whole) {
                let (k, _) = kv?;
                if hex::encode(&k).starts_with(&p)
                    && let Some(id) = RecordId::from_slice(&k)
                    && !found.contains(&id)
                {
                    found.push(id);
                }
                if found.len() > 5 {
                    break;
                }
            }
        }
        match found.len() {
            0 => Err(StoreError::NotFound(text.to_string())),
            1 => Ok(found[0]),
            _ => Err(StoreError::Ambiguous {
                prefix: text.to_string(),
                candidates: found
                    .iter()
                    .map(|i| i.short())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Every version of a record, oldest first: follows `supersedes` back
    /// and `superseded_by` forward through what this node holds.
    pub fn history(&self, id: &RecordId) -> Result<Vec<Stored>, StoreError> {
        let mut chain = Vec::new();
        let Some(start) = self.get(id)? else {
            return Ok(chain);
        };
        let mut back = start.record.body().supersedes.parse::<RecordId>().ok();
        let mut older = Vec::new();
        while let Some(prev) = back {
            match self.get(&prev)? {
                Some(s) if older.len() < 1000 => {
                    back = s.record.body().supersedes.parse().ok();
                    older.push(s);
                }
                _ => break,
            }
        }
        older.reverse();
        chain.extend(older);
        let mut next = start.superseded_by;
        chain.push(start);
        while let Some(n) = next {
            match self.get(&n)? {
                Some(s) if chain.len() < 1000 => {
                    next = s.superseded_by;
                    chain.push(s);
                }
                _ => break,
            }
        }
        Ok(chain)
    }

    /// Calls `f` with every held record, in feed order; stops at its first
    /// error. `superseded_by` is not looked up (always `None`).
    pub fn for_each_record(
        &self,
        mut f: impl FnMut(&Stored) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for kv in self.trees.records.iter() {
            let (k, v) = kv?;
            let (sr, record) = decode_row(keys::u64_from(&k), &v)?;
            f(&Stored {
                record,
                seq: sr.seq,
                stored_at: sr.stored_at,
                superseded_by: None,
                received_from: sr.received_from,
            })?;
        }
        Ok(())
    }

    /// Number of records held (counts every row: O(n); see
    /// [`Store::record_count`]).
    pub fn len(&self) -> usize {
        self.trees.records.len()
    }

    /// Number of records held, from the stats counter (O(1)).
    pub fn record_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .trees
            .counts
            .get(keys::records_count_key())?
            .map_or(0, |v| keys::u64_from(&v)))
    }

    /// Number of tombstones held, from the stats counter (O(1)).
    pub fn tombstone_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .trees
            .counts
            .get(keys::TOMBSTONES_COUNT_KEY)?
            .map_or(0, |v| keys::u64_from(&v)))
    }

    /// True when no record is held.
    pub fn is_empty(&self) -> bool {
        self.trees.records.is_empty()
    }

    /// The durable feed head (0 when empty): every position up to it is
    /// final (a record, or a hole left by a deletion or a failed batch).
    pub fn feed_head(&self) -> Result<u64, StoreError> {
        Ok(*self.head.borrow())
    }

    /// Watches the durable feed head (last sequence number flushed).
    pub fn head_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.head.clone()
    }

    /// Up to `limit` held records after feed position `after`, in feed
    /// order (positions of deleted records are skipped), up to position
    /// `upto` inclusive.
    pub fn feed_after(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<Stored>, StoreError> {
        self.feed_rows(after, upto, limit)
            .map(|kv| {
                let (seq, v) = kv?;
                let (sr, record) = decode_row(seq, &v)?;
                self.stored(sr, record)
            })
            .collect()
    }

    /// [`Store::feed_after`] as a source serves it: each record's envelope
    /// and verbatim signed bytes, its body left undecoded (rows stored
    /// before envelopes are decoded to make one).
    pub fn feed_entries_after(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        self.feed_rows(after, upto, limit)
            .map(|kv| {
                let (seq, v) = kv?;
                feed_entry(seq, &v)
            })
            .collect()
    }

    /// The rows at feed positions `after` < seq <= `upto`, at most
    /// `limit`, in order.
    fn feed_rows(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + '_ {
        // `upto > after` first: `after` may be u64::MAX (a peer's cursor).
        let rows = (upto > after).then(|| {
            self.trees
                .records
                .range((after + 1).to_be_bytes()..=upto.to_be_bytes())
        });
        rows.into_iter().flatten().take(limit).map(|kv| {
            let (k, v) = kv?;
            Ok((keys::u64_from(&k), v))
        })
    }

    /// The database's size on disk, bytes (sled's own count).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.trees.db.size_on_disk()?)
    }

    /// Number of tombstones.
    pub fn tombstones(&self) -> usize {
        self.trees.tombstones.len()
    }

    /// Counts per value of a field, largest first.
    pub fn counts(
        &self,
        field: crate::record::terms::Field,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.trees.counts.scan_prefix([field as u8]) {
            let (k, v) = kv?;
            let n = keys::u64_from(&v);
            if n > 0 {
                out.push((String::from_utf8_lossy(&k[1..]).into_owned(), n));
            }
        }
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Audit entries from `since` (inclusive), at most `limit`.
    pub fn audit_list(&self, since: u64, limit: usize) -> Result<Vec<pb::AuditEntry>, StoreError> {
        audit::list(&self.trees.audit, since, limit)
    }

    /// How many audit entries there are (the chain is numbered from 1 with
    /// no gaps; `audit_verify` checks that).
    pub fn audit_len(&self) -> Result<u64, StoreError> {
        Ok(match self.trees.audit.last()? {
            Some((k, _)) => super::keys::u64_from(&k),
            None => 0,
        })
    }

    /// The event metrics of this node (made with the store; every layer
    /// above adds to them).
    pub fn telemetry(&self) -> &crate::telemetry::Telemetry {
        &self.telemetry
    }

    /// Recomputes the audit hash chain.
    pub fn audit_verify(&self) -> Result<AuditVerdict, StoreError> {
        audit::verify(&self.trees.audit)
    }

    /// Records matching a query, newest first.
    pub fn query(&self, q: &Query) -> Result<QueryPage, StoreError> {
        query::run(self, q)
    }

    /// The background re-index of correlation keys after a normaliser
    /// change, while one runs: `(rows done, rows in all)`. Until it ends,
    /// selector lookups miss older rows whose key changed.
    pub fn selector_reindex(&self) -> Result<Option<(u64, u64)>, StoreError> {
        Ok(super::writer::Reindex::stored(&self.trees)?.map(|r| {
            (
                r.next.min(r.until).saturating_sub(1),
                r.until.saturating_sub(1),
            )
        }))
    }

    pub(crate) fn trees(&self) -> &Trees {
        &self.trees
    }
}

/// Decodes a `seq_record` value found by id: its metadata and the record
/// (the signed bytes are not re-verified: only verified records are ever
/// stored).
pub(crate) fn decode_record(id: &RecordId, v: &[u8]) -> Result<(Row, Record), StoreError> {
    decode_value(v, || format!("record {id}"))
}

/// Decodes a `seq_record` value; `what` names it in errors.
fn decode_value(v: &[u8], what: impl Fn() -> String) -> Result<(Row, Record), StoreError> {
    let mut sr = Row::decode(v).map_err(|e| StoreError::Corrupt(format!("{}: {e}", what())))?;
    let signed = sr
        .signed
        .take()
        .ok_or_else(|| StoreError::Corrupt(format!("{} has no signed bytes", what())))?;
    Ok((sr, Record::from_stored(signed)?))
}

/// One feed position as a source serves it.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    /// Feed sequence number.
    pub seq: u64,
    /// The record id.
    pub id: RecordId,
    /// What sharing decisions read.
    pub envelope: Envelope,
    /// The peer it was received from; empty for local records.
    pub received_from: String,
    /// The signed record, verbatim.
    pub signed: pb::SignedRecord,
}

/// A `seq_record` value as a [`FeedEntry`]: its id and envelope without
/// decoding the body (rows from before envelopes are decoded).
pub(crate) fn feed_entry(seq: u64, v: &[u8]) -> Result<FeedEntry, StoreError> {
    let what = || format!("record at feed position {seq}");
    let row = Row::decode(v).map_err(|e| StoreError::Corrupt(format!("{}: {e}", what())))?;
    let Row {
        signed,
        received_from,
        id,
        envelope,
        ..
    } = row;
    let signed =
        signed.ok_or_else(|| StoreError::Corrupt(format!("{} has no signed bytes", what())))?;
    let (id, envelope) = match (RecordId::from_slice(&id), envelope) {
        (Some(id), Some(envelope)) => (id, envelope),
        _ => {
            let r = Record::from_stored(signed.clone())?;
            (r.id(), Envelope::of(r.body()))
        }
    };
    Ok(FeedEntry {
        seq,
        id,
        envelope,
        received_from,
        signed,
    })
}

/// Decodes a `seq_record` value found by position.
pub(crate) fn decode_row(seq: u64, v: &[u8]) -> Result<(Row, Record), StoreError> {
    decode_value(v, || format!("record at feed position {seq}"))
}
