//! Acknowledged means on the disk: every acknowledgement follows an
//! `fdatasync` of sled's files (sled's own flush is only
//! `sync_file_range`, spacejam/sled#1452), once per group commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::storage::durable::{Counted, SledFiles};

fn counted(dir: &std::path::Path) -> (Store, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let c = calls.clone();
    let store = Store::open_synced(
        dir,
        "KE-KWS",
        DEFAULT_CACHE_BYTES,
        move |files: SledFiles| {
            Box::new(Counted {
                inner: files,
                calls: c,
            })
        },
    )
    .expect("open");
    (store, calls)
}

/// Each acknowledged insert was preceded by a sync of sled's files; fails
/// if the writer acknowledges after sled's flush alone.
#[tokio::test]
async fn every_acknowledgement_follows_a_sync_of_sleds_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, calls) = counted(dir.path());
    assert!(
        calls.load(Ordering::SeqCst) >= 1,
        "the open's own flush is synced"
    );
    for n in 0..5 {
        let before = calls.load(Ordering::SeqCst);
        let r = rec(body(n, "Panthera tigris", "IN"));
        assert!(matches!(put(&store, &r).await, Ok(Inserted::New(_))));
        assert!(
            calls.load(Ordering::SeqCst) > before,
            "insert {n} was acknowledged without an fdatasync after sled's flush"
        );
    }
}

/// One sync per group commit, not per record: concurrent writers share it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_per_group_commit() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, calls) = counted(dir.path());
    let store = Arc::new(store);
    let (syncs, flushes) = (calls.load(Ordering::SeqCst), store.flushes());
    let mut tasks = Vec::new();
    for n in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            put(&store, &rec(body(n, "Panthera leo", "KE"))).await
        }));
    }
    for t in tasks {
        assert!(matches!(t.await.expect("task"), Ok(Inserted::New(_))));
    }
    let groups = store.flushes() - flushes;
    assert_eq!(
        calls.load(Ordering::SeqCst) - syncs,
        groups,
        "a sync per group commit"
    );
    assert!(
        groups < 200,
        "{groups} group commits for 200 writes: not shared"
    );
}

/// A sync that fails once armed, as a full disk does.
struct FullDisk {
    inner: SledFiles,
    armed: Arc<std::sync::atomic::AtomicBool>,
}

impl crate::storage::durable::DurableSync for FullDisk {
    fn sync(&self) -> std::io::Result<()> {
        if self.armed.load(Ordering::SeqCst) {
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        self.inner.sync()
    }
}

/// A group commit that cannot be made durable is not acknowledged, and
/// the error says the disk is full and that nothing before is lost (not
/// "corrupt, restore from backup"); the store goes on once it can sync.
#[tokio::test]
async fn a_full_disk_is_named_and_nothing_is_acknowledged() {
    let dir = tempfile::tempdir().expect("tmp");
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let a = armed.clone();
    let store = Store::open_synced(dir.path(), "KE-KWS", DEFAULT_CACHE_BYTES, move |files| {
        Box::new(FullDisk {
            inner: files,
            armed: a,
        })
    })
    .expect("open");
    let kept = rec(body(1, "Panthera tigris", "IN"));
    assert!(matches!(put(&store, &kept).await, Ok(Inserted::New(_))));
    armed.store(true, Ordering::SeqCst);
    let lost = rec(body(2, "Panthera tigris", "IN"));
    let e = match store.insert(vec![item(&lost)], Vec::new()).await {
        Err(e) => e,
        Ok(mut v) => v.pop().expect("one result").expect_err("not acknowledged"),
    };
    assert!(matches!(e, StoreError::NotDurable(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("the disk holding the data dir is full"),
        "{text}"
    );
    assert!(
        text.contains("nothing acknowledged before is lost"),
        "{text}"
    );
    assert!(!text.contains("restore"), "{text}");
    armed.store(false, Ordering::SeqCst);
    let again = rec(body(3, "Panthera tigris", "IN"));
    assert!(matches!(put(&store, &again).await, Ok(Inserted::New(_))));
    assert!(store.get(&kept.id()).expect("get").is_some());
}
