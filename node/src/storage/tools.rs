//! Tools beside normal operation: the benchmark's raw-sled limits and
//! disk figures, and fault injection for tests of repairs (nothing in
//! normal operation calls those).

use std::path::Path;

use prost::Message;
use tokio::sync::oneshot;
use wildnet_proto::v1 as pb;

use super::durable::DurableSync;
use super::{
    DEFAULT_CACHE_BYTES, InsertItem, Inserted, Store, StoreError, decode_record, keys, open_sled,
    writer,
};
use crate::record::RecordId;

impl Store {
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
        for (field, value) in terms::of(&record) {
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
}

/// What raw sled does on this machine: the storage limit the benchmark
/// compares the node with.
#[derive(Debug, Clone, Copy)]
pub struct RawSled {
    /// Records stored per second.
    pub inserts_per_s: f64,
    /// Bytes on disk once flushed.
    pub disk_bytes: u64,
    /// Median time of the sync after each flush (`fdatasync` of sled's log
    /// and its directory), milliseconds.
    pub sync_median_ms: f64,
    /// Share of the run spent in those syncs (0–1): what durability costs.
    pub sync_share: f64,
}

/// Stores `n` records of `value_len` incompressible bytes, each with one
/// index entry, into a fresh sled database at `dir` with the node's
/// settings and durability (one flush and one `fdatasync` per batch of
/// 1,024, as the writer's group commit), and measures it.
pub fn raw_sled(dir: &Path, n: usize, value_len: usize) -> Result<RawSled, StoreError> {
    use sha2::{Digest, Sha256};
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(DEFAULT_CACHE_BYTES)
        .flush_every_ms(None)
        .open()?;
    let records = db.open_tree("records")?;
    let index = db.open_tree("index")?;
    let files = super::durable::SledFiles::open(dir).map_err(super::durable::io)?;
    let mut syncs = Vec::new();
    let mut durable = |db: &sled::Db| -> Result<(), StoreError> {
        db.flush()?;
        let t = std::time::Instant::now();
        files.sync().map_err(super::durable::io)?;
        syncs.push(t.elapsed().as_secs_f64());
        Ok(())
    };
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
            durable(&db)?;
        }
    }
    durable(&db)?;
    let secs = start.elapsed().as_secs_f64();
    drop((records, index, db));
    let synced: f64 = syncs.iter().sum();
    syncs.sort_by(f64::total_cmp);
    Ok(RawSled {
        inserts_per_s: n as f64 / secs.max(1e-9),
        disk_bytes: disk_usage(dir),
        sync_median_ms: syncs.get(syncs.len() / 2).copied().unwrap_or(0.0) * 1e3,
        sync_share: synced / secs.max(1e-9),
    })
}

/// What a stopped node's store holds, before sled's own overhead.
#[derive(Debug, Clone, Default)]
pub struct Logical {
    /// Keys and values of every tree, in bytes: what raw sled is given in
    /// the benchmark's "same bytes" disk limit.
    pub bytes: u64,
    /// Records held.
    pub records: u64,
    /// Keys per tree, largest first: what each record costs the engine.
    pub keys: Vec<(String, u64)>,
}

/// Reads [`Logical`] of the store at `path` (a stopped node's: it scans
/// every tree once).
pub fn logical_bytes(path: &Path) -> Result<Logical, StoreError> {
    let db = open_sled(path, sled::Config::new())?;
    let mut out = Logical::default();
    for name in db.tree_names() {
        let tree = db.open_tree(&name)?;
        let mut keys = 0u64;
        for kv in tree.iter() {
            let (k, v) = kv?;
            out.bytes += (k.len() + v.len()) as u64;
            keys += 1;
        }
        if keys > 0 {
            out.keys
                .push((String::from_utf8_lossy(&name).into_owned(), keys));
        }
    }
    out.keys.sort_by_key(|k| std::cmp::Reverse(k.1));
    out.records = db.open_tree("seq_record")?.len() as u64;
    Ok(out)
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
