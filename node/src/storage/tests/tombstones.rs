//! A tombstone is the author's alone and final; pending tombstones bind to
//! their author; data dirs hit by the old overwrite defect are mended at
//! open.

use super::{body, put, rec, retraction};
use crate::record::{Record, RecordId};
use crate::storage::{InsertItem, Inserted, Store, StoreError};
use wildnet_proto::v1 as pb;

fn from(r: &Record, peer: &str) -> InsertItem {
    InsertItem {
        record: r.clone(),
        draft_key: None,
        from: peer.into(),
    }
}

async fn put_from(store: &Store, r: &Record, peer: &str) -> Result<Inserted, StoreError> {
    store
        .insert(vec![from(r, peer)], Vec::new())
        .await
        .expect("writer alive")
        .pop()
        .expect("one result")
}

fn tombstone(store: &Store, id: &RecordId) -> pb::Tombstone {
    store.tombstone(id).expect("read").expect("tombstone")
}

fn audited(store: &Store, action: &str) -> Vec<String> {
    store
        .audit_list(0, 1000)
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| e.detail)
        .collect()
}

fn counted_tombstones_agree(store: &Store) {
    assert_eq!(
        store.tombstone_count().expect("count"),
        store.tombstones() as u64,
        "the tombstone counter follows the tombstones"
    );
}

/// The four steps at the storage level: after the author's own
/// retraction, another agency's retraction of the same id is refused and
/// stored nowhere, the tombstone stays the author's, and the record stays
/// out whatever was tried before.
#[tokio::test]
async fn a_confirmed_tombstone_is_final() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let r = rec(body(1, "Manis javanica", "KE"));
    put(&store, &r).await.expect("R");
    let own = rec(retraction(&r, "KE-KWS", 2));
    put(&store, &own).await.expect("KE retracts R");
    let e = put_from(&store, &r, "GB-NWCU").await.expect_err("R again");
    assert!(matches!(e, StoreError::Retracted { .. }), "{e}");

    let forged = rec(retraction(&r, "GB-NWCU", 3));
    let e = put_from(&store, &forged, "GB-NWCU")
        .await
        .expect_err("GB's retraction of KE's record accepted");
    assert!(
        matches!(&e, StoreError::NotAuthor { author, .. } if author == "KE-KWS"),
        "{e}"
    );
    assert!(store.get(&forged.id()).expect("get").is_none(), "stored");
    let t = tombstone(&store, &r.id());
    assert_eq!(
        (t.author.as_str(), t.retraction.clone(), t.confirmed),
        ("KE-KWS", own.id().to_hex(), true)
    );

    let e = put_from(&store, &r, "GB-NWCU").await.expect_err("R back");
    assert!(matches!(e, StoreError::Retracted { .. }), "{e}");
    assert!(store.get(&r.id()).expect("get").is_none());

    // The author retracting again is stored and changes nothing.
    let again = rec(retraction(&r, "KE-KWS", 4));
    put_from(&store, &again, "ZA-DFFE").await.expect("again");
    assert_eq!(tombstone(&store, &r.id()).retraction, own.id().to_hex());
    counted_tombstones_agree(&store);
}

/// A retraction of an id never held is a pending claim bound to the
/// retracting agency: it refuses a later copy only if that agency wrote
/// it, another agency's claim cannot block the author's, and false claims
/// are dropped with their retraction records when the record shows who
/// wrote it.
#[tokio::test]
async fn pending_tombstones_bind_to_their_author() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "ZA-DFFE").expect("open");

    // Pre-emption: GB retracts KE's record before it arrives.
    let x = rec(body(1, "Manis javanica", "KE"));
    let pre = rec(retraction(&x, "GB-NWCU", 2));
    put_from(&store, &pre, "GB-NWCU")
        .await
        .expect("pending claim");
    let t = tombstone(&store, &x.id());
    assert_eq!((t.author.as_str(), t.confirmed), ("GB-NWCU", false));
    assert!(matches!(
        put_from(&store, &x, "KE-KWS").await,
        Ok(Inserted::New(_))
    ));
    assert!(store.tombstone(&x.id()).expect("t").is_none());
    assert!(
        store.get(&pre.id()).expect("get").is_none(),
        "false claim held"
    );
    let dropped = audited(&store, "retraction-dropped");
    assert!(
        dropped.iter().any(|d| d.starts_with(&pre.id().to_hex())
            && d.contains("by GB-NWCU")
            && d.contains("written by KE-KWS")),
        "{dropped:?}"
    );

    // The author's pending claim refuses the record, even after another
    // agency claimed the same id first.
    let y = rec(body(3, "Manis javanica", "KE"));
    let rival = rec(retraction(&y, "GB-NWCU", 4));
    let own = rec(retraction(&y, "KE-KWS", 5));
    put_from(&store, &rival, "GB-NWCU").await.expect("GB claim");
    put_from(&store, &own, "KE-KWS")
        .await
        .expect("KE's claim is not blocked by GB's");
    let t = tombstone(&store, &y.id());
    assert_eq!(t.rivals.len(), 1, "{t:?}");
    let e = put_from(&store, &y, "GB-NWCU").await.expect_err("Y stored");
    assert!(matches!(e, StoreError::Retracted { .. }), "{e}");
    let t = tombstone(&store, &y.id());
    assert_eq!(
        (t.author.as_str(), t.confirmed, t.rivals.len()),
        ("KE-KWS", true, 0)
    );
    assert!(store.get(&rival.id()).expect("get").is_none());
    assert!(store.get(&own.id()).expect("get").is_some());
    // Now final: GB cannot claim it again.
    let late = rec(retraction(&y, "GB-NWCU", 6));
    let e = put_from(&store, &late, "GB-NWCU").await.expect_err("late");
    assert!(matches!(e, StoreError::NotAuthor { .. }), "{e}");
    counted_tombstones_agree(&store);
}

/// Forges what the old writer left (the author's tombstone overwritten by
/// GB's, the record stored again after its author's retraction) and
/// reopens: the record is deleted again, the author's tombstone restored,
/// GB's retraction dropped, all audited. A relay node without proof of the
/// author keeps both claims pending, and the author's copy is refused.
#[tokio::test]
async fn a_data_dir_hit_by_the_overwrite_defect_is_mended_at_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let r = rec(body(1, "Manis javanica", "KE"));
    put(&store, &r).await.expect("R");
    let own = rec(retraction(&r, "KE-KWS", 2));
    put(&store, &own).await.expect("retract");
    // On a relay: KE's retraction received, R never held.
    let s = rec(body(3, "Manis javanica", "KE"));
    let s_own = rec(retraction(&s, "KE-KWS", 4));
    put_from(&store, &s_own, "KE-KWS")
        .await
        .expect("S retracted");

    let forged = rec(retraction(&r, "GB-NWCU", 5));
    let s_forged = rec(retraction(&s, "GB-NWCU", 6));
    let items = vec![from(&forged, "GB-NWCU"), from(&s_forged, "GB-NWCU")];
    store.insert_unchecked(items).await.expect("forge");
    for (target, f) in [(&r, &forged), (&s, &s_forged)] {
        let mut t = tombstone(&store, &target.id());
        t.author = "GB-NWCU".into();
        t.retraction = f.id().to_hex();
        t.confirmed = false;
        store.put_tombstone_unchecked(&t).expect("overwrite");
    }
    store
        .insert_unchecked(vec![from(&r, "GB-NWCU")])
        .await
        .expect("resurrect");
    assert!(store.get(&r.id()).expect("get").is_some(), "forged state");
    store.close();
    drop(store);

    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    assert!(store.get(&r.id()).expect("get").is_none(), "R still back");
    let t = tombstone(&store, &r.id());
    assert_eq!(
        (t.author.as_str(), t.retraction.clone(), t.confirmed),
        ("KE-KWS", own.id().to_hex(), true)
    );
    assert!(store.get(&forged.id()).expect("get").is_none());
    let repaired = audited(&store, "retraction-repaired");
    assert!(
        repaired
            .iter()
            .any(|d| d.starts_with(&r.id().to_hex()) && d.contains("deleted again")),
        "{repaired:?}"
    );
    let t = tombstone(&store, &s.id());
    let mut by: Vec<&str> = std::iter::once(t.author.as_str())
        .chain(t.rivals.iter().map(|c| c.author.as_str()))
        .collect();
    by.sort_unstable();
    assert_eq!((by, t.confirmed), (vec!["GB-NWCU", "KE-KWS"], false));
    let e = put_from(&store, &s, "GB-NWCU").await.expect_err("S back");
    assert!(matches!(e, StoreError::Retracted { .. }), "{e}");
    assert!(store.get(&s_forged.id()).expect("get").is_none());
    counted_tombstones_agree(&store);

    // A second open finds nothing more to mend.
    store.close();
    drop(store);
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    assert_eq!(audited(&store, "retraction-repaired").len(), repaired.len());
}
