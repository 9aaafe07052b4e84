//! Draft digests dedupe local drafts through the index: in a bulk batch
//! (rare blocks), in a small one (own blocks), within one batch, and from
//! the `draftkey_id` tree of older data dirs.

use sha2::{Digest, Sha256};

use super::{body, rec};
use crate::record::Record;
use crate::storage::{InsertItem, Inserted, Store};

fn digest(n: i64) -> [u8; 32] {
    Sha256::digest(n.to_be_bytes()).into()
}

/// The draft `n` signed at time offset `at` (another id each time).
fn signed(n: i64, at: i64) -> (Record, [u8; 32]) {
    let mut b = body(n, "Manis javanica", "KE");
    b.created_at += at;
    (rec(b), digest(n))
}

async fn insert(store: &Store, drafts: &[(Record, [u8; 32])]) -> Vec<Inserted> {
    let items = drafts
        .iter()
        .map(|(r, k)| InsertItem {
            record: r.clone(),
            draft_key: Some(*k),
            from: String::new(),
        })
        .collect();
    let out = store.insert(items, Vec::new()).await.expect("insert");
    out.into_iter().map(|r| r.expect("stored")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_signed_once_is_a_duplicate_after() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let first: Vec<_> = (0..1100).map(|n| signed(n, 0)).collect();
    let stored = insert(&store, &first).await;
    assert!(stored.iter().all(|r| matches!(r, Inserted::New(_))));
    assert!(store.trees().drafts.is_empty(), "no draftkey_id entries");
    // The same drafts signed again: every one is the first's duplicate,
    // found in the bulk batch's rare blocks.
    let again: Vec<_> = (0..1100).map(|n| signed(n, 1)).collect();
    let dup = insert(&store, &again).await;
    for (n, r) in dup.iter().enumerate() {
        assert_eq!(*r, Inserted::Duplicate(first[n].0.id()));
    }
    // A small batch keeps its digests in their own blocks.
    let one = signed(5000, 0);
    assert!(matches!(
        insert(&store, std::slice::from_ref(&one)).await[0],
        Inserted::New(_)
    ));
    let two = signed(5000, 7);
    assert_eq!(
        insert(&store, &[two]).await[0],
        Inserted::Duplicate(one.0.id())
    );
    // Twice in one batch: the second is the first's duplicate.
    let (a, b) = (signed(6000, 0), signed(6000, 3));
    let r = insert(&store, &[a.clone(), b]).await;
    assert!(matches!(r[0], Inserted::New(_)));
    assert_eq!(r[1], Inserted::Duplicate(a.0.id()));
    // Still so after a restart.
    drop(store);
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    let late = signed(777, 9);
    assert_eq!(
        insert(&store, &[late]).await[0],
        Inserted::Duplicate(first[777].0.id())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_data_dirs_keep_their_draft_entries() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let (old, key) = signed(1, 0);
    let items = vec![InsertItem {
        record: old.clone(),
        draft_key: None,
        from: String::new(),
    }];
    store.insert(items, Vec::new()).await.expect("insert");
    // As a schema 4 writer left it: the digest in draftkey_id.
    store
        .trees()
        .drafts
        .insert(key, old.id().as_bytes())
        .expect("legacy entry");
    let again = signed(1, 5);
    assert_eq!(
        insert(&store, &[again]).await[0],
        Inserted::Duplicate(old.id())
    );
}
