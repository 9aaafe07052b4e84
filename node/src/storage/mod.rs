//! Storage: the only module that says `sled`.
//!
//! Trees (named `key_value`):
//! - `seq_record`: feed sequence number → `StoredRecord` (verbatim signed
//!   bytes, time, sender): the feed and the records in one, appended in
//!   order; a deleted record leaves a hole
//! - `id_seq`: record id → feed sequence number
//! - `index`: secondary indexes as posting blocks, see [`keys`]
//! - `batch_block`: batch + bucket of terms → the keys of the posting
//!   blocks that batch wrote for those terms (a deletion rewrites exactly
//!   its term's block of the record's batch)
//! - `field_count`: stats counters per `(field, value)`
//! - `id_supersededby`: old version id → newer version id
//! - `id_tombstone`: retracted id → `Tombstone`
//! - `draftkey_id`: SHA-256 of a draft → id, so a re-imported draft is a duplicate
//! - `expiry_id`: expiry time + id, for purging
//! - `seq_audit`: audit sequence → hash-chained `AuditEntry`
//! - `meta`: schema version, owning agency, adopted manifest, cursors and
//!   policy epochs per peer, the feed's high-water mark
//! - `idholder_receipt`: on the author's node, record id + holder agency →
//!   when it was stored (8 bytes) + SHA-256 of the signed receipt
//! - `hash_receipt`: the signed delivery receipts themselves (proof)
//! - `peerseq_receipt`: receipts waiting to be delivered to a peer
//!
//! All writes go through one writer thread ([`writer`]) that applies every
//! queued write, flushes once, and only then acknowledges them all (group
//! commit). Reads go straight to sled from any thread.

mod audit;
pub(crate) mod keys;
mod query;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use prost::Message;
use tokio::sync::oneshot;
use wildnet_proto::v1 as pb;

use crate::record::{Record, RecordError, RecordId};

pub use audit::{AuditDraft, AuditVerdict};
pub use query::{Query, QueryPage};

/// sled's page cache by default (`[storage] cache_mb`).
pub const DEFAULT_CACHE_BYTES: u64 = crate::config::DEFAULT_CACHE_MB << 20;

/// The on-disk schema version this code reads and writes. 2: the index is
/// posting blocks (1 had one key per term and record); 3: block references
/// are one list per batch and bucket of terms (2 had one key per block).
/// 4: records are kept by feed sequence number, index entries are
/// `(time, seq)` (3 kept records by id beside a seq → id feed, entries were
/// `(time, id)`). Older data dirs are converted at open.
pub const SCHEMA: u64 = 4;

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("storage engine error: {0}")]
    Sled(#[from] sled::Error),
    /// Stored bytes do not decode.
    #[error("stored data is corrupt ({0}); restore the data dir from backup")]
    Corrupt(String),
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
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A put (`Some`) or removal (`None`) of a key in a side tree.
pub type KvWrite = (Side, Vec<u8>, Option<Vec<u8>>);

/// Runs in the writer right after an insert, with its results and a source
/// of fresh queue numbers ([`Store::next_id`]); the side writes it returns
/// are written after the batch's records and made durable by the same
/// flush. So "records stored" and "what follows from them" (a peer's
/// cursor, receipts to send) cannot come apart in a crash.
pub type AfterInsert = Box<
    dyn FnOnce(
            &[Result<Inserted, StoreError>],
            &mut dyn FnMut() -> Result<u64, StoreError>,
        ) -> Vec<KvWrite>
        + Send,
>;

/// The side trees written through [`Store::kv_write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `meta`.
    Meta,
    /// `idholder_receipt`.
    Holders,
    /// `hash_receipt`.
    Receipts,
    /// `peerseq_receipt`.
    Outbox,
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
}

impl Trees {
    pub(crate) fn side(&self, side: Side) -> &sled::Tree {
        match side {
            Side::Meta => &self.meta,
            Side::Holders => &self.holders,
            Side::Receipts => &self.receipts,
            Side::Outbox => &self.outbox,
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
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database at `path` for `agency`. Refuses a
    /// database written by another agency or a newer schema.
    pub fn open(path: &Path, agency: &str) -> Result<Store, StoreError> {
        Store::open_with(path, agency, DEFAULT_CACHE_BYTES)
    }

    /// [`Store::open`] with sled's page cache limited to `cache_bytes`
    /// (`[storage] cache_mb`): more is faster under write load, less keeps
    /// the node's memory down.
    pub fn open_with(path: &Path, agency: &str, cache_bytes: u64) -> Result<Store, StoreError> {
        let db = open_sled(
            path,
            sled::Config::new()
                .cache_capacity(cache_bytes)
                .flush_every_ms(None),
        )?;
        let t = |n: &str| db.open_tree(n);
        let trees = Trees {
            records: t("seq_record")?,
            ids: t("id_seq")?,
            index: t("index")?,
            counts: t("field_count")?,
            superseded: t("id_supersededby")?,
            tombstones: t("id_tombstone")?,
            drafts: t("draftkey_id")?,
            expiry: t("expiry_id")?,
            audit: t("seq_audit")?,
            meta: t("meta")?,
            holders: t("idholder_receipt")?,
            receipts: t("hash_receipt")?,
            outbox: t("peerseq_receipt")?,
            blockrefs: t("batch_block")?,
            db,
        };
        let schema = check_meta(&trees.meta, agency)?;
        if schema < SCHEMA {
            let started = std::time::Instant::now();
            move_records_by_seq(&trees)?;
            let n = rebuild_index(&trees)?;
            trees.meta.insert("schema", &SCHEMA.to_be_bytes())?;
            trees.db.flush()?;
            tracing::warn!(
                records = n,
                ms = started.elapsed().as_millis() as u64,
                from = schema,
                to = SCHEMA,
                "storage upgraded: records by feed position, index rebuilt"
            );
        }
        // The stats counters are written with each batch but are not the
        // commit point: after a crash they may count a batch that did not
        // survive. A node that did not stop cleanly recounts them.
        match trees.meta.get(CLEAN_KEY)?.as_deref() {
            Some([1]) => {}
            Some(_) => {
                let started = std::time::Instant::now();
                let n = recount(&trees)?;
                tracing::warn!(
                    records = n,
                    ms = started.elapsed().as_millis() as u64,
                    "the node did not stop cleanly last time: stats counters recounted"
                );
            }
            // A new store, or one from before the clean mark: count once.
            None => {
                let n = recount(&trees)?;
                if n > 0 {
                    tracing::info!(records = n, "stats counters computed");
                }
            }
        }
        trees.meta.insert(CLEAN_KEY, &[0])?;
        trees.db.flush()?;
        let flushes = Arc::new(AtomicU64::new(0));
        let (head_tx, head) = tokio::sync::watch::channel(0);
        let (tx, handle) = writer::spawn(trees.clone(), flushes.clone(), head_tx)?;
        Ok(Store {
            trees,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(handle)),
            flushes,
            head,
        })
    }

    fn send(&self, op: writer::Op) -> Result<(), StoreError> {
        let guard = self.tx.lock().map_err(|_| StoreError::Closed)?;
        guard
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(op)
            .map_err(|_| StoreError::Closed)
    }

    /// Stores records durably; one result per item, in order. Returns once
    /// they are flushed to disk (shared with concurrent writers).
    pub async fn insert(
        &self,
        items: Vec<InsertItem>,
        audit: Vec<AuditDraft>,
    ) -> Result<Vec<Result<Inserted, StoreError>>, StoreError> {
        self.insert_then(items, audit, None).await
    }

    /// [`Store::insert`], then `then`'s side writes in the same flush,
    /// after the records.
    pub async fn insert_then(
        &self,
        items: Vec<InsertItem>,
        audit: Vec<AuditDraft>,
        then: Option<AfterInsert>,
    ) -> Result<Vec<Result<Inserted, StoreError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(writer::Op::Insert {
            items,
            checked: true,
            audit,
            then,
            reply,
        })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues an audit entry for the next group flush, without waiting.
    pub fn audit_queue(&self, entry: AuditDraft) -> Result<(), StoreError> {
        self.send(writer::Op::Audit { entry, reply: None })
    }

    /// Appends an audit entry; `durable` waits for the flush.
    pub async fn audit(&self, entry: AuditDraft, durable: bool) -> Result<(), StoreError> {
        if !durable {
            return self.audit_queue(entry);
        }
        let (reply, rx) = oneshot::channel();
        self.send(writer::Op::Audit {
            entry,
            reply: Some(reply),
        })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Deletes records whose `expires_at` is at or before `now`; returns how many.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(writer::Op::Purge { now, reply })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Stops the writer after it has flushed everything queued.
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut h) = self.thread.lock()
            && let Some(h) = h.take()
        {
            let _ = h.join();
        }
    }

    /// How many group flushes the writer has done (for tests and stats).
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

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

    fn stored(&self, sr: pb::StoredRecord, record: Record) -> Result<Stored, StoreError> {
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

    /// The id already signed for an identical draft, if still held.
    pub fn draft_id(&self, key: &[u8; 32]) -> Result<Option<RecordId>, StoreError> {
        Ok(self
            .trees
            .drafts
            .get(key)?
            .and_then(|v| RecordId::from_slice(&v)))
    }

    /// A value of the `meta` tree.
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.trees.meta.get(key)?.map(|v| v.to_vec()))
    }

    /// Sets a value of the `meta` tree durably.
    pub async fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.kv_write(vec![(
            Side::Meta,
            key.as_bytes().to_vec(),
            Some(value.to_vec()),
        )])
        .await
    }

    /// Puts (`Some`) or removes (`None`) keys of the side trees, durably
    /// and together (one group commit).
    pub async fn kv_write(&self, writes: Vec<KvWrite>) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(writer::Op::Kv { writes, reply })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Up to `limit` entries of a side tree under `prefix`, in key order.
    pub fn side_scan(
        &self,
        side: Side,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let mut out = Vec::new();
        for kv in self.trees.side(side).scan_prefix(prefix).take(limit) {
            let (k, v) = kv?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// How many keys of a side tree start with `prefix`, counting up to
    /// `limit` (keys only: nothing is copied).
    pub fn side_count(&self, side: Side, prefix: &[u8], limit: usize) -> Result<usize, StoreError> {
        let mut n = 0;
        for k in self.trees.side(side).scan_prefix(prefix).keys().take(limit) {
            k?;
            n += 1;
        }
        Ok(n)
    }

    /// One value of a side tree.
    pub fn side_get(&self, side: Side, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.trees.side(side).get(key)?.map(|v| v.to_vec()))
    }

    /// A fresh, increasing number (for queue keys).
    pub fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.trees.db.generate_id()?)
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

    /// Removes the row of a held record and nothing else, as a lost or
    /// damaged row would be: the completeness check must find and repair it.
    /// A repair and fault-injection tool; nothing in normal operation calls it.
    pub fn drop_record_row(&self, id: &RecordId) -> Result<bool, StoreError> {
        use crate::record::terms;
        let Some(seq) = self.trees.ids.remove(id.as_bytes())? else {
            return Ok(false);
        };
        let Some(row) = self.trees.records.remove(seq)? else {
            return Ok(false);
        };
        // The counters follow what is held.
        let (_, record) = decode_record(id, &row)?;
        for (field, value) in terms::terms(record.body()) {
            if terms::counted(field) {
                let k = keys::stat_key(field, &value);
                let n = self.trees.counts.get(&k)?.map_or(0, |v| keys::u64_from(&v));
                self.trees
                    .counts
                    .insert(k, &n.saturating_sub(1).to_be_bytes())?;
            }
        }
        self.trees.db.flush()?;
        Ok(true)
    }

    /// Stores records as they are, skipping every check of the writer
    /// (duplicates, tombstones, authorship), as a defective writer would
    /// have. A fault-injection tool for tests of repairs; nothing in
    /// normal operation calls it.
    pub async fn insert_unchecked(
        &self,
        items: Vec<InsertItem>,
    ) -> Result<Vec<Result<Inserted, StoreError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(writer::Op::Insert {
            items,
            checked: false,
            audit: Vec::new(),
            then: None,
            reply,
        })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Puts a tombstone as given, over any other, and flushes. A
    /// fault-injection tool (see [`Store::insert_unchecked`]).
    pub fn put_tombstone_unchecked(&self, ts: &pb::Tombstone) -> Result<(), StoreError> {
        let id: RecordId = ts
            .id
            .parse()
            .map_err(|_| StoreError::NotFound(ts.id.clone()))?;
        self.trees
            .tombstones
            .insert(id.as_bytes(), ts.encode_to_vec())?;
        self.trees.db.flush()?;
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
        let mut out = Vec::new();
        if upto <= after {
            return Ok(out);
        }
        for kv in self
            .trees
            .records
            .range((after + 1).to_be_bytes()..=upto.to_be_bytes())
            .take(limit)
        {
            let (k, v) = kv?;
            let (sr, record) = decode_row(keys::u64_from(&k), &v)?;
            out.push(self.stored(sr, record)?);
        }
        Ok(out)
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

    /// Recomputes the audit hash chain.
    pub fn audit_verify(&self) -> Result<AuditVerdict, StoreError> {
        audit::verify(&self.trees.audit)
    }

    /// Records matching a query, newest first.
    pub fn query(&self, q: &Query) -> Result<QueryPage, StoreError> {
        query::run(self, q)
    }

    pub(crate) fn trees(&self) -> &Trees {
        &self.trees
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

/// What raw sled does on this machine: the storage limit the benchmark
/// compares the node with.
#[derive(Debug, Clone, Copy)]
pub struct RawSled {
    /// Records stored per second.
    pub inserts_per_s: f64,
    /// Bytes on disk once flushed.
    pub disk_bytes: u64,
}

/// Stores `n` records of `value_len` incompressible bytes, each with one
/// index entry, into a fresh sled database at `dir` with the node's
/// settings and durability (one flush per batch of 1,024), and measures it.
pub fn raw_sled(dir: &Path, n: usize, value_len: usize) -> Result<RawSled, StoreError> {
    use sha2::{Digest, Sha256};
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(DEFAULT_CACHE_BYTES)
        .flush_every_ms(None)
        .open()?;
    let records = db.open_tree("records")?;
    let index = db.open_tree("index")?;
    let mut value = vec![0u8; value_len];
    let start = std::time::Instant::now();
    for i in 0..n {
        let id: [u8; 32] = Sha256::digest((i as u64).to_le_bytes()).into();
        for (j, b) in value.iter_mut().enumerate() {
            *b = id[j % 32] ^ (j as u8);
        }
        records.insert(id, value.as_slice())?;
        let mut key = (i as u64).to_be_bytes().to_vec();
        key.extend_from_slice(&id);
        index.insert(key, &[])?;
        if i % 1024 == 1023 {
            db.flush()?;
        }
    }
    db.flush()?;
    let secs = start.elapsed().as_secs_f64();
    drop((records, index, db));
    Ok(RawSled {
        inserts_per_s: n as f64 / secs.max(1e-9),
        disk_bytes: disk_usage(dir),
    })
}

/// The bytes a stopped node's store holds (keys and values of every tree,
/// before sled's own overhead) and the records among them: what raw sled
/// is given in the benchmark's "same bytes" disk limit.
pub fn logical_bytes(path: &Path) -> Result<(u64, u64), StoreError> {
    let db = open_sled(path, sled::Config::new())?;
    let mut bytes = 0u64;
    for name in db.tree_names() {
        let tree = db.open_tree(&name)?;
        for kv in tree.iter() {
            let (k, v) = kv?;
            bytes += (k.len() + v.len()) as u64;
        }
    }
    let records = db.open_tree("seq_record")?.len() as u64;
    Ok((bytes, records))
}

/// Bytes a directory tree occupies on disk (allocated blocks).
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.blocks() * 512;
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| disk_usage(&e.path())).sum())
        .unwrap_or(0)
}

/// Decodes a `seq_record` value found by id: its metadata and the record
/// (the signed bytes are not re-verified: only verified records are ever
/// stored).
pub(crate) fn decode_record(
    id: &RecordId,
    v: &[u8],
) -> Result<(pb::StoredRecord, Record), StoreError> {
    decode_value(v, || format!("record {id}"))
}

/// Decodes a `seq_record` value; `what` names it in errors.
fn decode_value(
    v: &[u8],
    what: impl Fn() -> String,
) -> Result<(pb::StoredRecord, Record), StoreError> {
    let mut sr =
        pb::StoredRecord::decode(v).map_err(|e| StoreError::Corrupt(format!("{}: {e}", what())))?;
    let signed = sr
        .signed
        .take()
        .ok_or_else(|| StoreError::Corrupt(format!("{} has no signed bytes", what())))?;
    Ok((sr, Record::from_stored(signed)?))
}

/// Opens the sled database at `path`, waiting up to 2 s for its file
/// lock: sled's I/O threads can hold the file for a moment after a store in
/// this process is closed (a restart). A lock held longer is another
/// process using the data dir.
pub(crate) fn open_sled(path: &Path, cfg: sled::Config) -> Result<sled::Db, StoreError> {
    let cfg = cfg.path(path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match cfg.open() {
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Mismatch(format!(
                        "the database {} is in use by another process (its lock is held): \
                         stop the other wildnet-node using this data dir, then start again",
                        path.display()
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

/// Decodes a `seq_record` value found by position.
pub(crate) fn decode_row(seq: u64, v: &[u8]) -> Result<(pb::StoredRecord, Record), StoreError> {
    decode_value(v, || format!("record at feed position {seq}"))
}

/// `meta` key: the feed's high-water mark, the next sequence number to
/// hand out. Written before a batch's index entries, so no number whose
/// entries may have reached the disk is ever handed out twice, and the
/// feed head never goes back when its last records are deleted.
pub(crate) const NEXT_SEQ_KEY: &str = "next_seq";

/// `meta` key: 1 once the writer stopped cleanly, 0 while running.
pub(crate) const CLEAN_KEY: &str = "clean";

/// Recomputes every stats counter from the records and tombstones held,
/// and drops `id_seq` entries of records that never reached the disk (a
/// batch cut by a crash: the record row is written last) and any record
/// row its id does not lead to.
fn recount(t: &Trees) -> Result<u64, StoreError> {
    use crate::record::terms;
    let mut orphans = Vec::new();
    for kv in t.ids.iter() {
        let (id, seq) = kv?;
        if !t.records.contains_key(&seq)? {
            orphans.push(id);
        }
    }
    for id in orphans {
        t.ids.remove(id)?;
    }
    let mut counts: std::collections::HashMap<Vec<u8>, u64> = std::collections::HashMap::new();
    let mut n = 0u64;
    let mut stray = Vec::new();
    for kv in t.records.iter() {
        let (k, v) = kv?;
        let (_, record) = decode_row(keys::u64_from(&k), &v)?;
        if t.ids.get(record.id().as_bytes())?.as_deref() != Some(k.as_ref()) {
            stray.push(k);
            continue;
        }
        for (field, value) in terms::terms(record.body()) {
            if terms::counted(field) {
                *counts.entry(keys::stat_key(field, &value)).or_default() += 1;
            }
        }
        n += 1;
    }
    for k in stray {
        t.records.remove(k)?;
    }
    let tombstones = t.tombstones.len() as u64;
    if tombstones > 0 {
        counts.insert(keys::TOMBSTONES_COUNT_KEY.to_vec(), tombstones);
    }
    t.counts.clear()?;
    for (k, v) in counts {
        t.counts.insert(k, &v.to_be_bytes())?;
    }
    Ok(n)
}

/// A batch's posting entries per term prefix cut into blocks (sorted by
/// key), and the block reference lists per bucket.
pub(crate) type CutBlocks = (Vec<KeyValue>, std::collections::HashMap<[u8; 9], Vec<u8>>);

/// Cuts a batch's posting entries (per term prefix) into blocks and lists
/// them per reference bucket: what the writer and the index rebuild store.
pub(crate) fn cut_blocks(
    terms: impl Iterator<Item = (Vec<u8>, Vec<keys::Entry>)>,
    batch: u64,
) -> CutBlocks {
    let mut blocks = Vec::new();
    let mut refs: std::collections::HashMap<[u8; 9], Vec<u8>> = Default::default();
    for (prefix, mut entries) in terms {
        let list = refs.entry(keys::block_ref_key(batch, &prefix)).or_default();
        for (key, value) in keys::blocks(&prefix, &mut entries, batch) {
            keys::push_block_ref(list, &key);
            blocks.push((key, value));
        }
    }
    blocks.sort_unstable();
    (blocks, refs)
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

/// Moves records of a schema 1–3 data dir (`id_record`: id → record, and
/// the feed `seq_id`: seq → id) to `seq_record` and `id_seq`, keeps the
/// feed's high-water mark, and drops the old trees.
fn move_records_by_seq(t: &Trees) -> Result<(), StoreError> {
    let names = t.db.tree_names();
    let has = |n: &str| names.iter().any(|x| x.as_ref() == n.as_bytes());
    if !has("id_record") || !has("seq_id") {
        return Ok(());
    }
    let old_records = t.db.open_tree("id_record")?;
    let old_feed = t.db.open_tree("seq_id")?;
    let mut high = 0u64;
    for kv in old_feed.iter() {
        let (k, v) = kv?;
        let seq = keys::u64_from(&k);
        high = high.max(seq);
        let Some(id) = RecordId::from_slice(&v) else {
            continue;
        };
        let Some(row) = old_records.get(id.as_bytes())? else {
            continue;
        };
        let (sr, _) = decode_record(&id, &row)?;
        if sr.seq != seq {
            continue;
        }
        t.records.insert(k, row)?;
        t.ids.insert(id.as_bytes(), &seq.to_be_bytes())?;
    }
    t.meta.insert(NEXT_SEQ_KEY, &(high + 1).to_be_bytes())?;
    t.db.flush()?;
    drop((old_records, old_feed));
    t.db.drop_tree("id_record")?;
    t.db.drop_tree("seq_id")?;
    Ok(())
}

/// Rebuilds the index as posting blocks from the records, in feed order,
/// 1,024 records per batch (schema 1–3 → 4); returns the records indexed.
fn rebuild_index(t: &Trees) -> Result<u64, StoreError> {
    use crate::record::terms;
    use prost::Message as _;
    t.index.clear()?;
    t.blockrefs.clear()?;
    let mut blocks: std::collections::HashMap<Vec<u8>, Vec<keys::Entry>> =
        std::collections::HashMap::new();
    let mut batch: Option<u64> = None;
    let mut in_batch = 0usize;
    let mut n = 0u64;
    let write = |blocks: &mut std::collections::HashMap<Vec<u8>, Vec<keys::Entry>>,
                 batch: u64|
     -> Result<(), StoreError> {
        let (blocks, refs) = cut_blocks(blocks.drain(), batch);
        for (key, value) in blocks {
            t.index.insert(key, value)?;
        }
        for (key, list) in refs {
            add_block_refs(&t.blockrefs, &key, list)?;
        }
        Ok(())
    };
    // Read in chunks, written between them: sled iterators are not
    // snapshots, so the tree is not changed while one is open.
    let mut from = 0u64;
    loop {
        let chunk: Vec<(sled::IVec, sled::IVec)> = t
            .records
            .range(from.to_be_bytes()..)
            .take(1024)
            .collect::<Result<_, _>>()?;
        let Some((last, _)) = chunk.last() else {
            break;
        };
        let next = keys::u64_from(last).checked_add(1);
        for (k, row) in chunk {
            let seq = keys::u64_from(&k);
            let (mut sr, record) = decode_row(seq, &row)?;
            let b = *batch.get_or_insert(seq);
            sr.index_batch = b;
            sr.signed = Some(record.signed().clone());
            t.records.insert(k, sr.encode_to_vec())?;
            let e = keys::entry(record.body().created_at, seq);
            for (field, value) in terms::terms(record.body()) {
                // Duplicates (a word twice) are dropped when the blocks are cut.
                blocks
                    .entry(keys::index_prefix(field, &value))
                    .or_default()
                    .push(e);
            }
            n += 1;
            in_batch += 1;
            if in_batch == 1024 {
                write(&mut blocks, b)?;
                batch = None;
                in_batch = 0;
            }
        }
        match next {
            Some(f) => from = f,
            None => break,
        }
    }
    if let Some(b) = batch {
        write(&mut blocks, b)?;
    }
    Ok(n)
}

/// Checks the owner and schema; returns the schema found (`SCHEMA` for a
/// new store).
fn check_meta(meta: &sled::Tree, agency: &str) -> Result<u64, StoreError> {
    let found = match meta.get("schema")? {
        None => {
            meta.insert("schema", &SCHEMA.to_be_bytes())?;
            SCHEMA
        }
        Some(v) if keys::u64_from(&v) > SCHEMA => {
            return Err(StoreError::Mismatch(format!(
                "the data dir has schema {} but this wildnet-node reads up to {SCHEMA}: upgrade wildnet-node",
                keys::u64_from(&v)
            )));
        }
        Some(v) => keys::u64_from(&v),
    };
    match meta.get("agency")? {
        None => {
            meta.insert("agency", agency.as_bytes())?;
        }
        Some(v) if v.as_ref() != agency.as_bytes() => {
            return Err(StoreError::Mismatch(format!(
                "the data dir belongs to agency {}, not {agency}: point data_dir at this agency's own directory",
                String::from_utf8_lossy(&v)
            )));
        }
        Some(_) => {}
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
