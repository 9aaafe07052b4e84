//! Storage: the only module that says `sled`.
//!
//! Trees (named `key_value`):
//! - `seq_record`: feed sequence number → [`row::Row`] (verbatim signed
//!   bytes, id, envelope — what sharing decisions read —, time, sender):
//!   the feed and the records in one, appended in order; a deleted record
//!   leaves a hole
//! - `id_seq`: record id → feed sequence number
//! - `index`: secondary indexes as posting blocks, see [`keys`], and the
//!   rare blocks of terms a large batch holds few entries of, see [`rare`]
//! - `batch_block`: batch + bucket of terms → the keys of the posting
//!   blocks that batch wrote for those terms (a deletion rewrites exactly
//!   its term's block of the record's batch)
//! - `field_count`: stats counters per `(field, value)`
//! - `id_supersededby`: old version id → newer version id
//! - `id_tombstone`: retracted id → `Tombstone`
//! - `draftkey_id`: SHA-256 of a draft → id, as schemas up to 4 kept it
//!   (read, no longer written: since schema 5 a draft's digest is a
//!   posting entry in `index`, see `writer/drafts.rs`)
//! - `expiry_id`: expiry time + id, for purging
//! - `seq_audit`: audit sequence → hash-chained `AuditEntry`
//! - `meta`: schema version, owning agency, adopted manifest, cursors and
//!   policy epochs per peer, the feed's high-water mark
//! - `idholder_receipt`: on the author's node, record id + holder agency →
//!   when it was stored (8 bytes) + SHA-256 of the signed receipt
//! - `hash_receipt`: the signed delivery receipts themselves (proof)
//! - `peerseq_receipt`: receipts waiting to be delivered to a peer
//! - `seq_alert`: alert number → `Alert` (node-local, never synced)
//! - `recordkey_alert`: record id + correlation key → alert number (one
//!   alert per record and value)
//! - `key_watch`: watched correlation key → `WatchEntry`
//! - `epochtoken_key`, `epochseq_token`: this agency's deconfliction filter
//!   per epoch (OPRF token → correlation key; position of a run's first
//!   token → the run of tokens added together)
//! - `peerkey_followup`: deconfliction answers and open follow-ups, per
//!   peer and selector (asker side)
//!
//! All writes go through one writer thread ([`writer`]) that applies every
//! queued write, flushes once, makes the flush durable ([`durable`]:
//! `fdatasync`, as sled's flush is only `sync_file_range`), and only then
//! acknowledges them all (group commit). Reads go straight to sled from
//! any thread.

mod alerts;
mod audit;
mod backup;
mod check;
mod durable;
mod filter;
mod keys;
mod open;
mod peers;
mod query;
mod rare;
mod read;
mod row;
mod selectors;
mod tools;
mod write;
mod writer;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, mpsc};

use crate::record::{Record, RecordError, RecordId};

pub use audit::{AuditDraft, AuditVerdict};
pub use backup::{BackupManifest, TreeFile, restore, verify_backup};
pub use check::CheckReport;
pub use filter::FilterState;
pub use peers::{PeerWrite, QueueKey};
pub use query::{Query, QueryPage};
pub use read::FeedEntry;
pub use tools::{Logical, RawSled, disk_usage, logical_bytes, raw_sled};

pub(crate) use open::open_sled;
pub(crate) use read::{decode_record, decode_row, feed_entry};
pub(crate) use row::Row;

/// sled's page cache by default (`[storage] cache_mb`).
pub const DEFAULT_CACHE_BYTES: u64 = crate::config::DEFAULT_CACHE_MB << 20;

/// The on-disk schema version this code reads and writes. 2: the index is
/// posting blocks (1 had one key per term and record); 3: block references
/// are one list per batch and bucket of terms (2 had one key per block).
/// 4: records are kept by feed sequence number, index entries are
/// `(time, seq)` (3 kept records by id beside a seq → id feed, entries were
/// `(time, id)`). 5: the terms a large batch holds few entries of are
/// packed into rare blocks ([`rare`]), and draft digests are index entries
/// instead of `draftkey_id` keys; a schema 4 index is a valid schema 5 one
/// and its `draftkey_id` is still read, so the conversion only records the
/// version. Older data dirs are converted at open.
pub const SCHEMA: u64 = 5;

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("storage engine error: {0}")]
    Sled(#[from] sled::Error),
    /// Stored bytes do not decode.
    #[error("stored data is corrupt ({0}); restore the data dir from backup")]
    Corrupt(String),
    /// A group commit could not be made durable: nothing of it is
    /// acknowledged, and what was acknowledged before is intact.
    #[error("{0}")]
    NotDurable(String),
    /// The data dir belongs to another agency or schema, or is in use.
    #[error("{0}")]
    Mismatch(String),
    /// No record with this id or prefix.
    #[error("no record {0}")]
    NotFound(String),
    /// Several records share the prefix.
    #[error("id prefix {prefix} is ambiguous: it matches {candidates}; give more characters")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// Some matching ids.
        candidates: String,
    },
    /// The prefix is too short or not hex.
    #[error("record id {0:?} must be at least 8 hex characters")]
    BadPrefix(String),
    /// The record was retracted.
    #[error("record {id} was retracted by its author ({reason})")]
    Retracted {
        /// The retracted id.
        id: String,
        /// The author's reason.
        reason: String,
    },
    /// A retraction or new version by someone other than the author.
    #[error("{what} {target} is refused: only its author {author} may do that")]
    NotAuthor {
        /// "retraction of" / "new version of".
        what: &'static str,
        /// The target id.
        target: String,
        /// The target's author.
        author: String,
    },
    /// The record's retention time has passed.
    #[error("record has expired (expires_at {0})")]
    Expired(i64),
    /// The writer thread is gone (the node is shutting down).
    #[error("storage is closed: the node is shutting down")]
    Closed,
}

impl From<RecordError> for StoreError {
    fn from(e: RecordError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// The result of storing one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored with this feed sequence number.
    New(u64),
    /// Already held (same id, or the same draft): nothing written.
    Duplicate(RecordId),
}

/// One record to store, with the draft digest used for deduplication.
#[derive(Debug, Clone)]
pub struct InsertItem {
    /// The verified or freshly signed record.
    pub record: Record,
    /// SHA-256 of the unsigned draft, when it came from a local publish.
    pub draft_key: Option<[u8; 32]>,
    /// The peer it was received from; empty for local records.
    pub from: String,
}

/// A record as read back, with its storage metadata.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The record.
    pub record: Record,
    /// Feed sequence number.
    pub seq: u64,
    /// When it was stored, unix ms.
    pub stored_at: i64,
    /// Newer version, if any.
    pub superseded_by: Option<RecordId>,
    /// The peer it was received from; empty for local records.
    pub received_from: String,
}

/// A key and its value.
pub(crate) type KeyValue = (Vec<u8>, Vec<u8>);

/// A put (`Some`) or removal (`None`) of a key in a side tree.
pub(crate) type KvWrite = (Side, Vec<u8>, Option<Vec<u8>>);

/// Runs in the writer right after an insert, with its results and a source
/// of fresh queue numbers ([`Store::next_queue_number`]); the peer-state
/// writes it returns
/// are written after the batch's records and made durable by the same
/// flush. So "records stored" and "what follows from them" (a peer's
/// cursor, receipts to send) cannot come apart in a crash.
pub type AfterInsert = Box<
    dyn FnOnce(
            &[Result<Inserted, StoreError>],
            &mut dyn FnMut() -> Result<u64, StoreError>,
        ) -> Vec<PeerWrite>
        + Send,
>;

/// The side trees the peer state lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// `meta`.
    Meta,
    /// `idholder_receipt`.
    Holders,
    /// `hash_receipt`.
    Receipts,
    /// `peerseq_receipt`.
    Outbox,
    /// `seq_alert`.
    Alerts,
    /// `recordkey_alert`.
    AlertKeys,
    /// `key_watch`.
    Watch,
    /// `epochtoken_key`.
    FilterKeys,
    /// `epochseq_token`.
    FilterLog,
    /// `peerkey_followup`.
    FollowUps,
}

#[derive(Clone)]
pub(crate) struct Trees {
    pub(crate) db: sled::Db,
    /// `seq_record`.
    pub(crate) records: sled::Tree,
    /// `id_seq`.
    pub(crate) ids: sled::Tree,
    pub(crate) index: sled::Tree,
    pub(crate) counts: sled::Tree,
    pub(crate) superseded: sled::Tree,
    pub(crate) tombstones: sled::Tree,
    pub(crate) drafts: sled::Tree,
    pub(crate) expiry: sled::Tree,
    pub(crate) audit: sled::Tree,
    pub(crate) meta: sled::Tree,
    pub(crate) holders: sled::Tree,
    pub(crate) receipts: sled::Tree,
    pub(crate) outbox: sled::Tree,
    pub(crate) blockrefs: sled::Tree,
    pub(crate) alerts: sled::Tree,
    pub(crate) alert_keys: sled::Tree,
    pub(crate) watch: sled::Tree,
    pub(crate) filter_keys: sled::Tree,
    pub(crate) filter_log: sled::Tree,
    pub(crate) followups: sled::Tree,
    /// The filters of every batch's rare terms.
    pub(crate) rare: rare::RareFilters,
    /// Added to sled's id generator: a restored database starts that
    /// generator again from 0 (it is not in any tree), so a restore sets a
    /// floor above every id the backup holds (`keys::ID_FLOOR_KEY`).
    pub(crate) id_floor: u64,
}

impl Trees {
    /// A new unique id (alert numbers, receipt queue numbers).
    pub(crate) fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()? + self.id_floor)
    }

    pub(crate) fn side(&self, side: Side) -> &sled::Tree {
        match side {
            Side::Meta => &self.meta,
            Side::Holders => &self.holders,
            Side::Receipts => &self.receipts,
            Side::Outbox => &self.outbox,
            Side::Alerts => &self.alerts,
            Side::AlertKeys => &self.alert_keys,
            Side::Watch => &self.watch,
            Side::FilterKeys => &self.filter_keys,
            Side::FilterLog => &self.filter_log,
            Side::FollowUps => &self.followups,
        }
    }

    /// Applies puts and removals to the side trees, in order (not flushed).
    pub(crate) fn write_sides(&self, writes: Vec<KvWrite>) -> Result<(), StoreError> {
        for (side, key, value) in writes {
            let tree = self.side(side);
            match value {
                Some(v) => tree.insert(key, v)?,
                None => tree.remove(key)?,
            };
        }
        Ok(())
    }
}

/// The node's database.
pub struct Store {
    trees: Trees,
    tx: Mutex<Option<mpsc::Sender<writer::Op>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    flushes: Arc<AtomicU64>,
    head: tokio::sync::watch::Receiver<u64>,
    telemetry: crate::telemetry::Telemetry,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

/// A batch's posting entries per term prefix cut into blocks (sorted by
/// key, rare blocks among them), the block reference lists per bucket, and
/// the filter of the rare blocks (written before them).
pub(crate) type CutBlocks = (
    Vec<KeyValue>,
    std::collections::HashMap<[u8; 9], Vec<u8>>,
    Option<rare::BatchFilter>,
);

/// Cuts the posting entries (per term prefix) of a batch of `records`
/// records into blocks: the terms a large batch holds only a few entries
/// of packed into rare blocks ([`rare`]), every other term in blocks of
/// its own, listed per reference bucket. What the writer and the index
/// rebuild store.
pub(crate) fn cut_blocks(
    terms: impl Iterator<Item = (Vec<u8>, Vec<keys::Entry>)>,
    records: usize,
    batch: u64,
) -> CutBlocks {
    let terms: Vec<(Vec<u8>, Vec<keys::Entry>)> = terms
        .map(|(prefix, mut entries)| {
            entries.sort_unstable();
            entries.dedup();
            (prefix, entries)
        })
        .collect();
    let (own, mut blocks, filter) = rare::split(terms, records, batch);
    let mut refs: std::collections::HashMap<[u8; 9], Vec<u8>> = Default::default();
    for (prefix, mut entries) in own {
        let list = refs.entry(keys::block_ref_key(batch, &prefix)).or_default();
        for (key, value) in keys::blocks(&prefix, &mut entries, batch) {
            keys::push_block_ref(list, &key);
            blocks.push((key, value));
        }
    }
    blocks.sort_unstable();
    (blocks, refs, filter)
}

/// Appends block keys to a batch's reference list (kept even if a batch
/// number ever came twice).
fn add_block_refs(refs: &sled::Tree, key: &[u8], list: Vec<u8>) -> Result<(), StoreError> {
    let merged = match refs.get(key)? {
        Some(old) => [old.as_ref(), list.as_slice()].concat(),
        None => list,
    };
    refs.insert(key, merged)?;
    Ok(())
}

#[cfg(test)]
mod tests;
