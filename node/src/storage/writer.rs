//! The single writer thread: group commit.
//!
//! It blocks for one operation, drains whatever else is queued (up to a
//! budget), applies them all to sled, flushes once, `fdatasync`s sled's
//! files ([`super::durable`]), and only then replies. So an acknowledged
//! write is on the disk, and concurrent writers share the cost of one
//! flush and one sync. Being the only writer also makes read-modify-write
//! (counters, the audit chain, duplicate checks) race-free.
//!
//! Ingest of one record, in order:
//! 1. a held id, or the digest of an identical local draft, is a duplicate;
//! 2. an id with a tombstone is refused when the tombstone is its
//!    author's (retracted before it arrived); other agencies' claims on
//!    the id are dropped ([`tombstones`]);
//! 3. a retraction must come from the target's author; it deletes the
//!    target's body and index entries and leaves a tombstone, which is
//!    final ([`tombstones`]);
//! 4. a new version must come from the author of the version it supersedes;
//! 5. the record gets the next feed sequence number and its index entries;
//! 6. at the end of the batch, the feed's high-water mark, index entries,
//!    counters, id → seq entries and records (by seq) are written in that
//!    order (the record row is the commit point),
//!    then the side writes that follow from the records (a peer's cursor,
//!    receipts to send: `AfterInsert`), then one flush and its sync, then every caller
//!    of the batch is answered.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, mpsc};

use prost::Message;
use tokio::sync::oneshot;
use wildnet_proto::v1 as pb;

use super::audit::{AuditChain, AuditDraft};
use super::durable::DurableSync;
use super::{InsertItem, Inserted, KvWrite, Row, StoreError, Trees, keys};
use crate::record::{Record, RecordId};

mod batch;
mod commit;
mod delete;
mod drafts;
mod reindex;
mod repair;
mod tombstones;

pub(crate) use reindex::Reindex;

/// Most operations applied under one flush.
const BATCH_BUDGET: usize = 4096;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(super) enum Op {
    Insert {
        items: Vec<InsertItem>,
        /// False only for the fault-injection tool: store without checks.
        checked: bool,
        audit: Vec<AuditDraft>,
        then: Option<super::AfterInsert>,
        reply: Reply<Vec<Result<Inserted, StoreError>>>,
    },
    Audit {
        entry: AuditDraft,
        reply: Option<Reply<()>>,
    },
    Purge {
        now: i64,
        reply: Reply<u64>,
    },
    /// Puts (`Some`) or removes (`None`) keys of the side trees.
    Kv {
        writes: Vec<super::KvWrite>,
        reply: Reply<()>,
    },
    /// Runs alone, between two group commits, with every write before it
    /// durable and none after it applied: a consistent view (the check,
    /// a backup). It answers its caller itself.
    Exclusive(Exclusive),
}

/// A job that reads the trees while no write happens.
pub(super) type Exclusive = Box<dyn FnOnce(&Trees) + Send>;

enum Done {
    Insert(
        Reply<Vec<Result<Inserted, StoreError>>>,
        Vec<Result<Inserted, StoreError>>,
    ),
    Audit(Option<Reply<()>>),
    Purge(Reply<u64>, u64),
    Meta(Reply<()>),
}

pub(super) fn spawn(
    trees: Trees,
    sync: Box<dyn DurableSync>,
    flushes: Arc<AtomicU64>,
    head: tokio::sync::watch::Sender<u64>,
    telemetry: crate::telemetry::Telemetry,
) -> Result<(mpsc::Sender<Op>, std::thread::JoinHandle<()>), StoreError> {
    let mut w = Writer::new(trees, sync)?;
    w.telemetry = telemetry;
    let mended = w.repair_retractions()?;
    w.write_batch()?;
    w.flush()?;
    if mended > 0 {
        tracing::warn!(
            ids = mended,
            "this data dir was hit by the tombstone-overwrite defect: mended (see `wildnet audit list`)"
        );
    }
    head.send_replace(w.next_seq - 1);
    let (tx, rx) = mpsc::channel::<Op>();
    let handle = std::thread::Builder::new()
        .name("wildnet-writer".into())
        .spawn(move || w.run(&rx, &flushes, &head))
        .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
    Ok((tx, handle))
}

/// Group commits between two re-index steps under a steady load.
const REINDEX_EVERY: u32 = 8;

struct Writer {
    t: Trees,
    /// After each flush: `fdatasync` of sled's files.
    sync: Box<dyn DurableSync>,
    /// The background re-index of selectors, while one is due.
    reindex: Option<Reindex>,
    /// Group-commit latency and size.
    telemetry: crate::telemetry::Telemetry,
    next_seq: u64,
    chain: AuditChain,
    /// Counter changes of the current batch, written once before the flush:
    /// the same hot counters (kind, author, …) change for every record.
    counts: HashMap<Vec<u8>, i64>,
    /// Posting entries of the current batch per term prefix: one block
    /// per term is written before the flush.
    new_index: HashMap<Vec<u8>, Vec<keys::Entry>>,
    /// The current batch's number (its first feed sequence number).
    batch: Option<u64>,
    /// Records of the current batch (id → seq and encoded `StoredRecord`),
    /// written last: see [`Writer::write_batch`].
    pending: HashMap<RecordId, (u64, Vec<u8>)>,
    /// Side writes that follow from this batch's records (`AfterInsert`),
    /// written after them.
    pending_kv: Vec<KvWrite>,
    /// Draft digests of the current batch's records.
    pending_drafts: HashMap<[u8; 32], RecordId>,
    /// The feed high-water mark last written (0: unknown).
    mark: u64,
    /// Set after a failed group commit: id entries may then exist without
    /// their record row, so `held` checks the row too (until restart, when
    /// such entries are dropped).
    suspect_ids: bool,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Writer {
    fn new(t: Trees, sync: Box<dyn DurableSync>) -> Result<Writer, StoreError> {
        let next_seq = next_seq(&t)?;
        let chain = AuditChain::load(&t.audit)?;
        let reindex = Reindex::needed(&t, next_seq)?;
        Ok(Writer {
            reindex,
            t,
            sync,
            next_seq,
            chain,
            counts: HashMap::new(),
            new_index: HashMap::new(),
            batch: None,
            pending: HashMap::new(),
            pending_kv: Vec::new(),
            pending_drafts: HashMap::new(),
            mark: 0,
            suspect_ids: false,
            telemetry: crate::telemetry::Telemetry::default(),
        })
    }

    /// Applies one operation. An `Err` is a storage failure: everything of
    /// this batch is then answered with it.
    fn apply(&mut self, op: Op, done: &mut Vec<Done>) -> Result<(), StoreError> {
        match op {
            Op::Insert {
                items,
                checked,
                audit,
                then,
                reply,
            } => {
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    let r = if checked {
                        self.insert(item)
                    } else {
                        self.store_new(item.draft_key, item.record, item.from)
                    };
                    match r {
                        Err(StoreError::Sled(e)) => {
                            done.push(Done::Insert(reply, Vec::new()));
                            return Err(StoreError::Sled(e));
                        }
                        other => results.push(other),
                    }
                }
                for a in audit {
                    self.chain.append(&self.t.audit, a)?;
                }
                if let Some(then) = then {
                    let t = &self.t;
                    let mut next_id = || t.next_id();
                    let writes = then(&results, &mut next_id);
                    self.pending_kv
                        .extend(writes.into_iter().map(super::PeerWrite::into_kv));
                }
                done.push(Done::Insert(reply, results));
            }
            Op::Audit { entry, reply } => {
                self.chain.append(&self.t.audit, entry)?;
                done.push(Done::Audit(reply));
            }
            Op::Kv { writes, reply } if !self.pending_kv.is_empty() => {
                // Behind side writes still pending in this batch: keep the
                // order (a cursor reset after a cursor move wins).
                self.pending_kv.extend(writes);
                done.push(Done::Meta(reply));
            }
            Op::Kv { writes, reply } => {
                self.t.write_sides(writes)?;
                done.push(Done::Meta(reply));
            }
            Op::Purge { now, reply } => {
                let n = self.purge(now)?;
                done.push(Done::Purge(reply, n));
            }
            // `run` and `group` take these before `apply`.
            Op::Exclusive(job) => job(&self.t),
        }
        Ok(())
    }

    fn insert(&mut self, item: InsertItem) -> Result<Inserted, StoreError> {
        let rec = item.record;
        let id = rec.id();
        if self.held(&id)? {
            return Ok(Inserted::Duplicate(id));
        }
        if let Some(key) = &item.draft_key
            && let Some(eid) = self.draft_held(key)?
        {
            return Ok(Inserted::Duplicate(eid));
        }
        self.settle(&rec)?;
        let body = rec.body();
        if body.expires_at != 0 && body.expires_at <= now_ms() {
            return Err(StoreError::Expired(body.expires_at));
        }
        if let Some(pb::record_body::Payload::Retraction(r)) = &body.payload {
            self.retract(&rec, r)?;
        }
        if let Ok(old) = body.supersedes.parse::<RecordId>() {
            // A local draft may not supersede a retracted record (checked
            // before signing too, but the retraction may be in a batch
            // stored after that check).
            if item.from.is_empty()
                && let Some(ts) = self.t.tombstones.get(old.as_bytes())?
            {
                let ts = pb::Tombstone::decode(ts.as_ref()).unwrap_or_default();
                return Err(StoreError::Retracted {
                    id: old.to_hex(),
                    reason: ts.reason,
                });
            }
            if let Some(prev) = self.load(&old)?
                && prev.body().author != body.author
            {
                return Err(StoreError::NotAuthor {
                    what: "new version of",
                    target: old.to_hex(),
                    author: prev.body().author.clone(),
                });
            }
        }
        self.store_new(item.draft_key, rec, item.from)
    }

    /// Stores a record that passed the checks of [`Writer::insert`]
    /// (called directly only by the fault-injection tool
    /// [`super::Store::insert_unchecked`]).
    fn store_new(
        &mut self,
        draft_key: Option<[u8; 32]>,
        rec: Record,
        from: String,
    ) -> Result<Inserted, StoreError> {
        let id = rec.id();
        let body = rec.body();
        if let Ok(old) = body.supersedes.parse::<RecordId>() {
            self.t.superseded.insert(old.as_bytes(), id.as_bytes())?;
        }
        let seq = self.next_seq;
        let stored_at = now_ms();
        let batch = *self.batch.get_or_insert(seq);
        self.add_terms(&rec, 1, batch, seq)?;
        if body.expires_at != 0 {
            self.t
                .expiry
                .insert(keys::expiry_key(body.expires_at, &id), id.as_bytes())?;
        }
        if let Some(key) = &draft_key {
            self.index_draft(key, id, body.created_at, seq);
        }
        let stored = Row {
            signed: Some(rec.signed().clone()),
            seq,
            stored_at,
            received_from: from,
            index_batch: batch,
            id: id.as_bytes().to_vec(),
            envelope: Some(crate::record::Envelope::of(body)),
        };
        self.pending.insert(id, (seq, stored.encode_to_vec()));
        self.next_seq += 1;
        Ok(Inserted::New(seq))
    }

    /// True when the record is stored or pending in this batch.
    fn held(&self, id: &RecordId) -> Result<bool, StoreError> {
        if self.pending.contains_key(id) {
            return Ok(true);
        }
        match self.t.ids.get(id.as_bytes())? {
            None => Ok(false),
            Some(_) if !self.suspect_ids => Ok(true),
            Some(seq) => Ok(self.t.records.contains_key(seq)?),
        }
    }

    fn load(&self, id: &RecordId) -> Result<Option<Record>, StoreError> {
        Ok(self.load_stored(id)?.map(|(_, r)| r))
    }

    /// A held record (stored or pending) with its storage metadata.
    fn load_stored(&self, id: &RecordId) -> Result<Option<(Row, Record)>, StoreError> {
        Ok(Some(match self.pending.get(id) {
            Some((_, v)) => super::decode_record(id, v)?,
            None => {
                let Some(seq) = self.t.ids.get(id.as_bytes())? else {
                    return Ok(None);
                };
                match self.t.records.get(seq)? {
                    Some(v) => super::decode_record(id, &v)?,
                    None => return Ok(None),
                }
            }
        }))
    }
}

/// The next feed sequence number: past the last record and the high-water
/// mark (numbers of a batch cut by a crash are not reused).
fn next_seq(t: &Trees) -> Result<u64, StoreError> {
    let last = t.records.last()?.map_or(0, |(k, _)| keys::u64_from(&k));
    let mark = t
        .meta
        .get(keys::NEXT_SEQ_KEY)?
        .map_or(0, |v| keys::u64_from(&v));
    Ok((last + 1).max(mark).max(1))
}
