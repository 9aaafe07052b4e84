//! Opening a data dir: ownership and schema checks, conversion of older
//! schemas, the recount after an unclean stop.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use super::{
    DEFAULT_CACHE_BYTES, SCHEMA, Store, StoreError, Trees, add_block_refs, cut_blocks,
    decode_record, decode_row, keys, writer,
};
use crate::record::RecordId;

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
        Store::open_synced(path, agency, cache_bytes, |files| Box::new(files))
    }

    /// [`Store::open_with`], with the writer's sync after each flush
    /// wrapped by `sync` (tests count its calls).
    pub(crate) fn open_synced(
        path: &Path,
        agency: &str,
        cache_bytes: u64,
        sync: impl FnOnce(super::durable::SledFiles) -> Box<dyn super::durable::DurableSync>,
    ) -> Result<Store, StoreError> {
        let db = open_sled(
            path,
            sled::Config::new()
                .cache_capacity(cache_bytes)
                .flush_every_ms(None),
        )?;
        let trees = Trees::open(db)?;
        let schema = check_meta(&trees.meta, agency)?;
        if schema < SCHEMA {
            upgrade(&trees, schema)?;
        }
        recount_unless_clean(&trees)?;
        trees.meta.insert(keys::CLEAN_KEY, &[0])?;
        trees.db.flush()?;
        let files = super::durable::SledFiles::open(path).map_err(super::durable::io)?;
        let flushes = Arc::new(AtomicU64::new(0));
        let (head_tx, head) = tokio::sync::watch::channel(0);
        let telemetry = crate::telemetry::Telemetry::default();
        let (tx, handle) = writer::spawn(
            trees.clone(),
            sync(files),
            flushes.clone(),
            head_tx,
            telemetry.clone(),
        )?;
        Ok(Store {
            trees,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(handle)),
            flushes,
            head,
            telemetry,
        })
    }
}

impl Trees {
    /// The named trees of `db`.
    pub(super) fn open(db: sled::Db) -> Result<Trees, StoreError> {
        let t = |n: &str| db.open_tree(n);
        let index = t("index")?;
        Ok(Trees {
            rare: super::rare::RareFilters::load(&index)?,
            index,
            records: t("seq_record")?,
            ids: t("id_seq")?,
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
            alerts: t("seq_alert")?,
            alert_keys: t("recordkey_alert")?,
            watch: t("key_watch")?,
            filter_keys: t("epochtoken_key")?,
            filter_log: t("epochseq_token")?,
            followups: t("peerkey_followup")?,
            id_floor: meta_u64(&db, keys::ID_FLOOR_KEY)?,
            db,
        })
    }
}

/// A `meta` number (0 when absent).
fn meta_u64(db: &sled::Db, key: &str) -> Result<u64, StoreError> {
    Ok(db
        .open_tree("meta")?
        .get(key)?
        .map_or(0, |v| keys::u64_from(&v)))
}

/// Converts a data dir of an older schema: records by feed position, the
/// index rebuilt (schemas 1–3); schema 4 only gets the new version.
fn upgrade(trees: &Trees, schema: u64) -> Result<(), StoreError> {
    if schema == 4 {
        // A schema 4 index is a schema 5 one without rare blocks.
        trees.meta.insert(keys::SCHEMA_KEY, &SCHEMA.to_be_bytes())?;
        trees.db.flush()?;
        tracing::info!(from = schema, to = SCHEMA, "storage schema recorded");
        return Ok(());
    }
    let started = std::time::Instant::now();
    move_records_by_seq(trees)?;
    let n = rebuild_index(trees)?;
    trees
        .meta
        .insert(keys::NORMALISER_KEY, &[keys::NORMALISER])?;
    trees.meta.insert(keys::SCHEMA_KEY, &SCHEMA.to_be_bytes())?;
    trees.db.flush()?;
    tracing::warn!(
        records = n,
        ms = started.elapsed().as_millis() as u64,
        from = schema,
        to = SCHEMA,
        "storage upgraded: records by feed position, index rebuilt"
    );
    Ok(())
}

/// The stats counters are written with each batch but are not the commit
/// point: after a crash they may count a batch that did not survive. A
/// node that did not stop cleanly recounts them.
fn recount_unless_clean(trees: &Trees) -> Result<(), StoreError> {
    match trees.meta.get(keys::CLEAN_KEY)?.as_deref() {
        Some([1]) => {}
        Some(_) => {
            let started = std::time::Instant::now();
            let n = recount(trees)?;
            tracing::warn!(
                records = n,
                ms = started.elapsed().as_millis() as u64,
                "the node did not stop cleanly last time: stats counters recounted"
            );
        }
        // A new store, or one from before the clean mark: count once.
        None => {
            let n = recount(trees)?;
            if n > 0 {
                tracing::info!(records = n, "stats counters computed");
            }
        }
    }
    Ok(())
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
        for (field, value) in terms::of(&record) {
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
    t.meta
        .insert(keys::NEXT_SEQ_KEY, &(high + 1).to_be_bytes())?;
    t.db.flush()?;
    drop((old_records, old_feed));
    t.db.drop_tree("id_record")?;
    t.db.drop_tree("seq_id")?;
    Ok(())
}

/// Rebuilds the index as posting blocks from the records, in feed order,
/// [`REBUILD_BATCH`] records per batch (schema 1–3 → 5); returns the records indexed.
fn rebuild_index(t: &Trees) -> Result<u64, StoreError> {
    t.index.clear()?;
    t.rare.clear();
    t.blockrefs.clear()?;
    let mut blocks = Blocks::new();
    let mut batch: Option<u64> = None;
    let mut in_batch = 0usize;
    let mut n = 0u64;
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
            let b = *batch.get_or_insert(keys::u64_from(&k));
            reindex_row(t, &k, &row, b, &mut blocks)?;
            n += 1;
            in_batch += 1;
            if in_batch == REBUILD_BATCH {
                write_blocks(t, &mut blocks, in_batch, b)?;
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
        write_blocks(t, &mut blocks, in_batch, b)?;
    }
    Ok(n)
}

/// Records per batch of an index rebuild: large enough for rare blocks.
const REBUILD_BATCH: usize = super::rare::RARE_BATCH;

/// A batch's posting entries per term prefix, before they are cut.
type Blocks = std::collections::HashMap<Vec<u8>, Vec<keys::Entry>>;

/// Rewrites one row with its batch and gathers its index entries.
fn reindex_row(
    t: &Trees,
    k: &[u8],
    row: &[u8],
    batch: u64,
    blocks: &mut Blocks,
) -> Result<(), StoreError> {
    use prost::Message as _;
    let seq = keys::u64_from(k);
    let (mut sr, record) = decode_row(seq, row)?;
    sr.index_batch = batch;
    sr.signed = Some(record.signed().clone());
    t.records.insert(k, sr.encode_to_vec())?;
    let e = keys::entry(record.body().created_at, seq);
    for (field, value) in crate::record::terms::of(&record) {
        // Duplicates (a word twice) are dropped when the blocks are cut.
        blocks
            .entry(keys::index_prefix(field, &value))
            .or_default()
            .push(e);
    }
    Ok(())
}

/// Writes the blocks of a batch of `records` and their references.
fn write_blocks(
    t: &Trees,
    blocks: &mut Blocks,
    records: usize,
    batch: u64,
) -> Result<(), StoreError> {
    let (blocks, refs, filter) = cut_blocks(blocks.drain(), records, batch);
    if let Some(filter) = filter {
        t.rare.write(&t.index, filter)?;
    }
    for (key, value) in blocks {
        t.index.insert(key, value)?;
    }
    for (key, list) in refs {
        add_block_refs(&t.blockrefs, &key, list)?;
    }
    Ok(())
}

/// Checks the owner and schema; returns the schema found (`SCHEMA` for a
/// new store).
fn check_meta(meta: &sled::Tree, agency: &str) -> Result<u64, StoreError> {
    let found = match meta.get(keys::SCHEMA_KEY)? {
        None => {
            meta.insert(keys::SCHEMA_KEY, &SCHEMA.to_be_bytes())?;
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
    match meta.get(keys::OWNER_KEY)? {
        None => {
            meta.insert(keys::OWNER_KEY, agency.as_bytes())?;
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
