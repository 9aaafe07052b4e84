//! What makes a flushed group commit survive a power cut, not only a killed
//! process. sled 0.34 ends each flush with `sync_file_range` on Linux
//! (spacejam/sled#1452, open): that writes the pages out but flushes
//! neither the device's write cache nor the file's metadata. So after
//! sled's flush the writer calls `fdatasync` on sled's log file (`db`),
//! and `fsync` on the database directory (new snapshot and blob files are
//! entries in it): once per group commit, never per record, and before
//! anything is acknowledged or the feed head moves.

use std::fs::File;
use std::path::Path;

use super::StoreError;
#[cfg(test)]
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// A failed group commit as its callers see it: not acknowledged, with
/// the cause and what to do (a full disk is the common one).
pub(super) fn not_durable(e: &StoreError) -> StoreError {
    let full = matches!(e, StoreError::Sled(sled::Error::Io(io))
        if io.kind() == std::io::ErrorKind::StorageFull);
    let fix = if full {
        "the disk holding the data dir is full: free space (or move [storage] data_dir to a larger \
         disk) and retry"
    } else {
        "check the disk holding the data dir (the kernel log names I/O errors) and retry"
    };
    StoreError::NotDurable(format!(
        "the write was not stored ({e}): {fix}; nothing acknowledged before is lost"
    ))
}

/// An I/O error of sled's files as a storage error.
pub(super) fn io(e: std::io::Error) -> StoreError {
    StoreError::Sled(sled::Error::Io(e))
}

/// sled's flush, then `sync`: what one group commit needs to be durable.
pub(super) fn flush(db: &sled::Db, sync: &dyn DurableSync) -> Result<(), StoreError> {
    db.flush()?;
    sync.sync().map_err(io)
}

/// The sync the writer calls after sled's flush.
pub(crate) trait DurableSync: Send {
    /// Makes what the last flush wrote durable.
    fn sync(&self) -> std::io::Result<()>;
}

/// sled's files: its log and its directory.
pub(crate) struct SledFiles {
    log: File,
    dir: File,
}

impl SledFiles {
    /// Opens the files of the sled database at `path` (already open).
    pub(crate) fn open(path: &Path) -> std::io::Result<SledFiles> {
        Ok(SledFiles {
            log: File::open(path.join("db"))?,
            dir: File::open(path)?,
        })
    }
}

impl DurableSync for SledFiles {
    fn sync(&self) -> std::io::Result<()> {
        self.log.sync_data()?;
        self.dir.sync_all()
    }
}

/// A sync that counts its calls, around another: how tests see that every
/// acknowledgement follows one.
#[cfg(test)]
pub(crate) struct Counted<S> {
    /// The sync that does the work.
    pub(crate) inner: S,
    /// Calls that succeeded.
    pub(crate) calls: Arc<AtomicU64>,
}

#[cfg(test)]
impl<S: DurableSync> DurableSync for Counted<S> {
    fn sync(&self) -> std::io::Result<()> {
        self.inner.sync()?;
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
