//! Backup of a running store and restore into a new data dir: the same
//! records, the same trees, a sound check; a damaged or foreign backup is
//! refused before anything is written.

use super::check::sound_store;
use super::*;

fn feed(store: &Store) -> Vec<(u64, RecordId)> {
    store
        .feed_entries_after(0, u64::MAX, 100_000)
        .expect("feed")
        .into_iter()
        .map(|e| (e.seq, e.id))
        .collect()
}

#[tokio::test]
async fn a_backup_restores_to_the_same_store() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = sound_store(&dir.path().join("db")).await;
    let backup = dir.path().join("backup");
    let m = store.backup(&backup, 42).await.expect("backup");
    assert_eq!(m.agency, "KE-KWS");
    assert_eq!(m.records, store.len() as u64);
    // Written after the snapshot: not in the backup.
    put(&store, &rec(body(9000, "Panthera leo", "KE")))
        .await
        .expect("later");
    let before: Vec<_> = feed(&store);
    store.close();
    drop(store);

    let restored = dir.path().join("restored");
    restore(&backup, &restored, "KE-KWS").expect("restore");
    let store = Store::open(&restored, "KE-KWS").expect("open the restored store");
    let after = feed(&store);
    assert_eq!(
        after,
        before[..before.len() - 1],
        "exactly what was backed up"
    );
    let r = store.check().await.expect("check");
    assert_eq!(r.problems, Vec::<String>::new());
    assert_eq!(r.records, m.records);
    // New positions and ids go above anything the lost store may have
    // written after the backup.
    let later = put(&store, &rec(body(9001, "Panthera leo", "TZ")))
        .await
        .expect("a new record");
    assert!(
        matches!(later, Inserted::New(seq) if seq > 1 << 32),
        "{later:?}"
    );
    assert!(store.next_queue_number().expect("id") >= m.ids_issued);
    // A second restore never overwrites.
    store.close();
    drop(store);
    let e = restore(&backup, &restored, "KE-KWS").expect_err("over existing data");
    assert!(e.to_string().contains("move it away first"), "{e}");
    let e = restore(&backup, &dir.path().join("x"), "ZA-DFFE").expect_err("foreign");
    assert!(e.to_string().contains("the backup is of KE-KWS"), "{e}");
}

#[tokio::test]
async fn a_damaged_backup_is_refused_before_writing() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = sound_store(&dir.path().join("db")).await;
    let backup = dir.path().join("backup");
    let m = store.backup(&backup, 42).await.expect("backup");
    let e = store
        .backup(&backup, 43)
        .await
        .expect_err("into a non-empty dir");
    assert!(e.to_string().contains("not empty"), "{e}");
    let biggest = m.trees.iter().max_by_key(|t| t.bytes).expect("a tree");
    let path = backup.join(&biggest.file);
    let mut bytes = std::fs::read(&path).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, bytes).expect("write");
    let target = dir.path().join("restored");
    let e = restore(&backup, &target, "KE-KWS").expect_err("damaged");
    assert!(e.to_string().contains("does not match backup.json"), "{e}");
    assert!(!target.exists(), "nothing written");
    std::fs::remove_file(backup.join("backup.json")).expect("rm");
    let e = verify_backup(&backup).expect_err("incomplete");
    assert!(e.to_string().contains("incomplete"), "{e}");
}
