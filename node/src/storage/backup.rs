//! Backup and restore of a data dir. A backup is taken on the writer
//! thread between two group commits (a consistent snapshot of a running
//! node: writes wait while it is written) as one file per sled tree plus
//! `backup.json`, which lists each file with its size and SHA-256 and is
//! written last, so a backup without it is incomplete. A restore checks
//! every file against the list before it writes anything, builds the
//! database beside the data dir and moves it into place only when whole.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{SCHEMA, Store, StoreError, Trees, keys};

/// The list of a backup's files, `backup.json`.
const MANIFEST: &str = "backup.json";

/// `backup.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupManifest {
    /// Format of this layout (1).
    pub format: u32,
    /// The agency whose data dir this is.
    pub agency: String,
    /// The storage schema of the trees.
    pub schema: u64,
    /// When the snapshot was taken, unix ms.
    pub taken_at: i64,
    /// Records held at that moment.
    pub records: u64,
    /// An id above every id the store had issued (alerts, receipt queue
    /// numbers): sled's generator is not in any tree, so a restore
    /// starts above it.
    #[serde(default)]
    pub ids_issued: u64,
    /// One entry per sled tree.
    pub trees: Vec<TreeFile>,
}

/// Largest key or value a restore reads (sled values of wildnet are far
/// smaller: a rare block, a record row).
const MAX_VALUE: usize = 64 << 20;

/// One tree's file in a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TreeFile {
    /// The tree's name, hex (sled names are bytes).
    pub name: String,
    /// The file, relative to the backup dir.
    pub file: String,
    /// Key/value pairs in it.
    pub entries: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Mismatch(format!("cannot {what} {}: {e}", path.display()))
}

impl Store {
    /// Writes a consistent snapshot of the store into `dir`, which must be
    /// absent or empty.
    pub async fn backup(&self, dir: &Path, now_ms: i64) -> Result<BackupManifest, StoreError> {
        prepare_dir(dir)?;
        let dir = dir.to_path_buf();
        self.exclusive(move |t| write_backup(t, &dir, now_ms)).await
    }
}

fn prepare_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|e| io("read", dir, e))?;
        if entries.next().is_some() {
            return Err(StoreError::Mismatch(format!(
                "{} is not empty: back up into a new directory",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(dir.join("trees")).map_err(|e| io("create", dir, e))
}

fn write_backup(t: &Trees, dir: &Path, now_ms: i64) -> Result<BackupManifest, StoreError> {
    let owner = t.meta.get(keys::OWNER_KEY)?;
    let agency = owner.map(|v| String::from_utf8_lossy(&v).into_owned());
    let mut m = BackupManifest {
        format: 1,
        agency: agency.unwrap_or_default(),
        schema: SCHEMA,
        taken_at: now_ms,
        records: t.records.len() as u64,
        ids_issued: t.next_id()? + 1,
        trees: Vec::new(),
    };
    for (i, name) in t.db.tree_names().into_iter().enumerate() {
        let tree = t.db.open_tree(&name)?;
        let file = format!("trees/{i:03}.kv");
        let (entries, bytes, sha256) = write_tree(&tree, &dir.join(&file))?;
        m.trees.push(TreeFile {
            name: hex::encode(&name),
            file,
            entries,
            bytes,
            sha256,
        });
    }
    let path = dir.join(MANIFEST);
    let text = serde_json::to_vec_pretty(&m)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode {MANIFEST}: {e}")))?;
    let mut f = File::create(&path).map_err(|e| io("create", &path, e))?;
    f.write_all(&text).map_err(|e| io("write", &path, e))?;
    f.sync_all().map_err(|e| io("sync", &path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("sync", dir, e))?;
    Ok(m)
}

/// Writes `[key len u32][key][value len u32][value]` per entry; returns
/// the entries, bytes and SHA-256 of the file.
fn write_tree(tree: &sled::Tree, path: &Path) -> Result<(u64, u64, String), StoreError> {
    let f = File::create(path).map_err(|e| io("create", path, e))?;
    let mut out = BufWriter::new(f);
    let mut h = Sha256::new();
    let (mut n, mut bytes) = (0u64, 0u64);
    for kv in tree.iter() {
        let (k, v) = kv?;
        for part in [k.as_ref(), v.as_ref()] {
            let len = u32::try_from(part.len())
                .map_err(|_| StoreError::Corrupt("a value over 4 GiB".into()))?
                .to_be_bytes();
            for chunk in [&len[..], part] {
                h.update(chunk);
                out.write_all(chunk).map_err(|e| io("write", path, e))?;
                bytes += chunk.len() as u64;
            }
        }
        n += 1;
    }
    let f = out
        .into_inner()
        .map_err(|e| io("write", path, e.into_error()))?;
    f.sync_all().map_err(|e| io("sync", path, e))?;
    Ok((n, bytes, hex::encode(h.finalize())))
}

/// Reads and checks `backup.json` and every file it lists (size and
/// SHA-256) without writing anything.
pub fn verify_backup(dir: &Path) -> Result<BackupManifest, StoreError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path)
        .map_err(|e| io("read (a backup without it is incomplete)", &path, e))?;
    let m: BackupManifest = serde_json::from_slice(&text).map_err(|e| {
        StoreError::Corrupt(format!("{} is not a backup list: {e}", path.display()))
    })?;
    if m.format != 1 || m.schema > SCHEMA {
        return Err(StoreError::Mismatch(format!(
            "{} is format {} schema {}; this wildnet reads format 1 up to schema {SCHEMA}",
            path.display(),
            m.format,
            m.schema
        )));
    }
    for tf in &m.trees {
        let file = file_of(dir, &tf.file)?;
        let mut r = BufReader::new(File::open(&file).map_err(|e| io("read", &file, e))?);
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut bytes = 0u64;
        loop {
            let n = r.read(&mut buf).map_err(|e| io("read", &file, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            bytes += n as u64;
        }
        if bytes != tf.bytes || hex::encode(h.finalize()) != tf.sha256 {
            return Err(StoreError::Corrupt(format!(
                "{} does not match {MANIFEST} (damaged or altered): this backup cannot be restored",
                file.display()
            )));
        }
    }
    Ok(m)
}

/// A listed file, which must stay inside the backup dir.
fn file_of(dir: &Path, name: &str) -> Result<PathBuf, StoreError> {
    let ok = name.starts_with("trees/")
        && name[6..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.');
    if !ok {
        return Err(StoreError::Corrupt(format!(
            "{MANIFEST} lists {name:?}, which is not a tree file of the backup"
        )));
    }
    Ok(dir.join(name))
}

/// Restores the backup in `backup` as the database `db` of `agency`,
/// which must not exist yet (the node stopped, the old one moved away).
pub fn restore(backup: &Path, db: &Path, agency: &str) -> Result<BackupManifest, StoreError> {
    let m = verify_backup(backup)?;
    if m.agency != agency {
        return Err(StoreError::Mismatch(format!(
            "the backup is of {}, this node is {agency}: restore it into {}'s agency dir",
            m.agency, m.agency
        )));
    }
    if db.exists() {
        return Err(StoreError::Mismatch(format!(
            "{} exists: stop the node and move it away first (the restore never overwrites data)",
            db.display()
        )));
    }
    let mut partial = db.as_os_str().to_owned();
    partial.push(".restoring");
    let partial = PathBuf::from(partial);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| io("remove", &partial, e))?;
    }
    {
        let sled_db = super::open_sled(&partial, sled::Config::new())?;
        for tf in &m.trees {
            let name = hex::decode(&tf.name)
                .map_err(|e| StoreError::Corrupt(format!("tree name {}: {e}", tf.name)))?;
            let tree = sled_db.open_tree(name)?;
            read_tree(&tree, &file_of(backup, &tf.file)?)?;
        }
        continue_after_backup(&sled_db, &m)?;
        sled_db.flush()?;
    }
    sync_tree(&partial)?;
    std::fs::rename(&partial, db).map_err(|e| io("move into place", db, e))?;
    if let Some(parent) = db.parent() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync", parent, e))?;
    }
    Ok(m)
}

/// Feed positions after a restore: the node may have written positions
/// past the backup before it was lost, and its peers' cursors may be
/// there; new records go well above them (2^32 further), so peers pull
/// them instead of skipping them. And ids start above every id issued.
const FEED_JUMP: u64 = 1 << 32;

fn continue_after_backup(db: &sled::Db, m: &BackupManifest) -> Result<(), StoreError> {
    let meta = db.open_tree("meta")?;
    let records = db.open_tree("seq_record")?;
    let last = records.last()?.map_or(0, |(k, _)| keys::u64_from(&k));
    let mark = meta
        .get(keys::NEXT_SEQ_KEY)?
        .map_or(0, |v| keys::u64_from(&v));
    let next = (last + 1).max(mark) + FEED_JUMP;
    meta.insert(keys::NEXT_SEQ_KEY, &next.to_be_bytes())?;
    meta.insert(keys::ID_FLOOR_KEY, &m.ids_issued.to_be_bytes())?;
    Ok(())
}

/// Loads one tree file into `tree`, in batches.
fn read_tree(tree: &sled::Tree, path: &Path) -> Result<(), StoreError> {
    let mut r = BufReader::new(File::open(path).map_err(|e| io("read", path, e))?);
    let mut batch = sled::Batch::default();
    let mut n = 0usize;
    let next = |r: &mut BufReader<File>| -> Result<Option<Vec<u8>>, StoreError> {
        let mut len = [0u8; 4];
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(io("read", path, e)),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_VALUE {
            return Err(StoreError::Corrupt(format!(
                "{} holds a value of {len} bytes, more than any wildnet writes",
                path.display()
            )));
        }
        let mut v = vec![0u8; len];
        r.read_exact(&mut v).map_err(|e| io("read", path, e))?;
        Ok(Some(v))
    };
    while let Some(k) = next(&mut r)? {
        let v = next(&mut r)?.ok_or_else(|| {
            StoreError::Corrupt(format!("{} ends inside an entry", path.display()))
        })?;
        batch.insert(k, v);
        n += 1;
        if n.is_multiple_of(10_000) {
            tree.apply_batch(std::mem::take(&mut batch))?;
        }
    }
    tree.apply_batch(batch)?;
    Ok(())
}

/// `fsync`s every file under `dir`, and `dir` itself.
fn sync_tree(dir: &Path) -> Result<(), StoreError> {
    for e in std::fs::read_dir(dir).map_err(|e| io("read", dir, e))? {
        let p = e.map_err(|e| io("read", dir, e))?.path();
        if p.is_dir() {
            sync_tree(&p)?;
        } else {
            File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| io("sync", &p, e))?;
        }
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("sync", dir, e))
}
