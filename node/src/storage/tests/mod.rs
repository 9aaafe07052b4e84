use ed25519_dalek::SigningKey;
use prost::Message;
use wildnet_proto::v1 as pb;

use std::collections::HashSet;

use super::*;
use crate::record::terms::{self, Field};

mod backup;
mod check;
mod drafts;
mod durable;
mod envelope;
mod joint;
mod rare;
mod reindex;
mod tombstones;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn body(n: i64, species: &str, country: &str) -> pb::RecordBody {
    pb::RecordBody {
        schema_version: 1,
        author: "KE-KWS".into(),
        created_at: 1_700_000_000_000 + n,
        handling: Some(pb::Handling {
            tlp: pb::Tlp::Amber as i32,
            scope: pb::Scope::Local as i32,
            code: pb::HandlingCode::H0 as i32,
            ..Default::default()
        }),
        payload: Some(pb::record_body::Payload::Listing(pb::Listing {
            platform: "facebook".into(),
            title: format!("listing {n}"),
            species: Some(pb::Species {
                scientific_name: species.into(),
                cites_appendix: pb::CitesAppendix::I as i32,
                ..Default::default()
            }),
            country: country.into(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn rec(b: pb::RecordBody) -> Record {
    Record::sign(b, &key())
}

fn item(r: &Record) -> InsertItem {
    InsertItem {
        record: r.clone(),
        draft_key: None,
        from: String::new(),
    }
}

/// Edits a closed store's raw trees with `edit`, as a crash would have
/// left them, and clears its clean-stop mark.
fn crashed(path: &std::path::Path, edit: impl FnOnce(&sled::Db)) {
    let db = open_sled(path, sled::Config::new()).expect("raw sled");
    edit(&db);
    db.open_tree("meta")
        .expect("meta")
        .insert(keys::CLEAN_KEY, &[0])
        .expect("unclean");
    db.flush().expect("flush");
}

async fn put(store: &Store, r: &Record) -> Result<Inserted, StoreError> {
    store
        .insert(vec![item(r)], Vec::new())
        .await
        .expect("writer alive")
        .pop()
        .expect("one result")
}

fn species_query(s: &str) -> Query {
    Query {
        terms: vec![(Field::Species, s.to_lowercase())],
        limit: 1000,
        ..Default::default()
    }
}

/// Stored records read back byte for byte; a second insert is a duplicate.
#[tokio::test]
async fn insert_get_duplicate() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let r = rec(body(1, "Manis javanica", "KE"));
    assert_eq!(put(&store, &r).await.expect("insert"), Inserted::New(1));
    assert_eq!(
        put(&store, &r).await.expect("insert"),
        Inserted::Duplicate(r.id())
    );
    let got = store.get(&r.id()).expect("get").expect("present");
    assert_eq!(got.record.signed(), r.signed());
    assert_eq!(got.seq, 1);
    assert_eq!(store.feed_head().expect("head"), 1);
}

/// Concurrent writers share flushes, and every acknowledged record is
/// there after the store is closed and reopened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_is_durable_across_reopen() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = std::sync::Arc::new(Store::open(dir.path(), "KE-KWS").expect("open"));
    let mut tasks = Vec::new();
    for n in 0..300 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let r = rec(body(n, "Panthera tigris", "IN"));
            (r.id(), put(&store, &r).await)
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let (id, r) = t.await.expect("task");
        assert!(matches!(r, Ok(Inserted::New(_))), "{r:?}");
        ids.push(id);
    }
    let flushes = store.flushes();
    assert!(
        flushes < 300,
        "expected shared flushes, got {flushes} for 300 writes"
    );
    store.close();
    drop(store);
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    for id in &ids {
        assert!(store.get(id).expect("get").is_some(), "{id} lost");
    }
    assert_eq!(store.feed_head().expect("head"), 300);
    assert_eq!(
        store
            .query(&species_query("Panthera tigris"))
            .expect("q")
            .records
            .len(),
        300
    );
}

/// Index queries return exactly the matching records, newest first, and
/// pages join up to the full result without gaps or repeats.
#[tokio::test]
async fn index_queries_and_pagination() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let mut items = Vec::new();
    for n in 0..250 {
        let (sp, c) = if n % 5 == 0 {
            ("Manis javanica", "VN")
        } else {
            ("Psittacus erithacus", "CM")
        };
        items.push(item(&rec(body(n, sp, c))));
    }
    store.insert(items, Vec::new()).await.expect("insert");
    let pangolins = store
        .query(&species_query("Manis javanica"))
        .expect("q")
        .records;
    assert_eq!(pangolins.len(), 50);
    let times: Vec<i64> = pangolins
        .iter()
        .map(|s| s.record.body().created_at)
        .collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "not newest first");

    let both = Query {
        terms: vec![
            (Field::Species, "manis javanica".into()),
            (Field::Country, "CM".into()),
        ],
        limit: 100,
        ..Default::default()
    };
    assert!(store.query(&both).expect("q").records.is_empty());

    // Pages of 7 over everything.
    let mut seen = Vec::new();
    let mut q = Query {
        limit: 7,
        ..Default::default()
    };
    loop {
        let page = store.query(&q).expect("page");
        seen.extend(page.records.iter().map(|s| s.record.id()));
        match page.next {
            Some(c) => q.after = keys::decode_cursor(&c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 250, "a page repeated a record");

    // Time bounds: since inclusive, until exclusive.
    let q = Query {
        since: Some(1_700_000_000_000 + 10),
        until: Some(1_700_000_000_000 + 20),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(store.query(&q).expect("q").records.len(), 10);
    assert_eq!(
        store.counts(Field::Species).expect("counts"),
        vec![
            ("psittacus erithacus".to_string(), 200),
            ("manis javanica".to_string(), 50)
        ]
    );
}

fn retraction(target: &Record, author: &str, n: i64) -> pb::RecordBody {
    let mut b = body(n, "x", "KE");
    b.author = author.into();
    b.payload = Some(pb::record_body::Payload::Retraction(pb::Retraction {
        target: target.id().to_hex(),
        reason: "wrong seller".into(),
    }));
    b
}

/// A retraction removes the body and index entries, leaves a tombstone,
/// and the target is refused if it arrives again.
#[tokio::test]
async fn retraction_tombstones() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let target = rec(body(1, "Manis javanica", "KE"));
    put(&store, &target).await.expect("insert");
    assert_eq!(store.counts(Field::Species).expect("c").len(), 1);

    // Someone else's retraction is refused and changes nothing.
    let foreign = rec(retraction(&target, "ZA-DFFE", 2));
    let e = put(&store, &foreign)
        .await
        .expect_err("foreign retraction accepted");
    assert!(matches!(e, StoreError::NotAuthor { .. }), "{e}");
    assert!(store.get(&target.id()).expect("get").is_some());

    let r = rec(retraction(&target, "KE-KWS", 3));
    assert!(matches!(put(&store, &r).await, Ok(Inserted::New(_))));
    assert!(store.get(&target.id()).expect("get").is_none());
    assert!(
        store
            .query(&species_query("Manis javanica"))
            .expect("q")
            .records
            .is_empty()
    );
    assert!(store.counts(Field::Species).expect("c").is_empty());
    let t = store
        .tombstone(&target.id())
        .expect("t")
        .expect("tombstone");
    assert_eq!(t.reason, "wrong seller");
    let e = put(&store, &target)
        .await
        .expect_err("retracted record re-accepted");
    assert!(matches!(e, StoreError::Retracted { .. }), "{e}");
    assert_eq!(
        store.resolve(&target.id().to_hex()[..10]).expect("resolve"),
        target.id()
    );
}

/// Queries show the newest version; history shows all, oldest first.
#[tokio::test]
async fn versions() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let v1 = rec(body(1, "Manis javanica", "KE"));
    let mut b2 = body(2, "Manis javanica", "KE");
    b2.supersedes = v1.id().to_hex();
    let v2 = rec(b2);
    put(&store, &v1).await.expect("v1");
    put(&store, &v2).await.expect("v2");
    let now = store
        .query(&species_query("Manis javanica"))
        .expect("q")
        .records;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].record.id(), v2.id());
    let mut q = species_query("Manis javanica");
    q.history = true;
    assert_eq!(store.query(&q).expect("q").records.len(), 2);
    let h: Vec<RecordId> = store
        .history(&v1.id())
        .expect("h")
        .iter()
        .map(|s| s.record.id())
        .collect();
    assert_eq!(h, vec![v1.id(), v2.id()]);
    assert_eq!(store.history(&v2.id()).expect("h").len(), 2);

    // A new version by another author is refused.
    let mut b3 = body(3, "Manis javanica", "KE");
    b3.author = "ZA-DFFE".into();
    b3.supersedes = v2.id().to_hex();
    let e = put(&store, &rec(b3))
        .await
        .expect_err("foreign edit accepted");
    assert!(matches!(e, StoreError::NotAuthor { .. }), "{e}");
}

/// Prefixes resolve when unique, and say so when too short or unknown.
#[tokio::test]
async fn prefix_resolution() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let r = rec(body(1, "Manis javanica", "KE"));
    put(&store, &r).await.expect("insert");
    let hex = r.id().to_hex();
    assert_eq!(store.resolve(&hex[..8]).expect("8"), r.id());
    assert_eq!(store.resolve(&hex[..9]).expect("9"), r.id());
    assert_eq!(store.resolve(&hex.to_uppercase()).expect("64"), r.id());
    assert!(matches!(
        store.resolve(&hex[..7]),
        Err(StoreError::BadPrefix(_))
    ));
    assert!(matches!(
        store.resolve("zzzzzzzz"),
        Err(StoreError::BadPrefix(_))
    ));
    let other = if hex.starts_with('0') {
        "11111111"
    } else {
        "00000000"
    };
    assert!(matches!(store.resolve(other), Err(StoreError::NotFound(_))));
}

/// The audit chain verifies, and an edited or removed entry is named.
#[tokio::test]
async fn audit_chain_detects_tampering() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    for i in 0..5 {
        let d = AuditDraft {
            actor: "uid:1000".into(),
            action: "query".into(),
            detail: format!("n={i}"),
        };
        store.audit(d, true).await.expect("audit");
    }
    assert_eq!(
        store.audit_verify().expect("v"),
        AuditVerdict {
            entries: 5,
            broken: None
        }
    );
    let tree = &store.trees().audit;
    let raw = tree.get(3u64.to_be_bytes()).expect("get").expect("entry 3");
    let mut e = pb::AuditEntry::decode(raw.as_ref()).expect("decode");
    e.detail = "n=99".into();
    tree.insert(3u64.to_be_bytes(), e.encode_to_vec())
        .expect("tamper");
    let v = store.audit_verify().expect("v");
    assert_eq!(v.broken.as_ref().map(|b| b.0), Some(3), "{v:?}");
    tree.insert(3u64.to_be_bytes(), raw).expect("restore");
    tree.remove(4u64.to_be_bytes()).expect("remove");
    let v = store.audit_verify().expect("v");
    assert_eq!(v.broken.as_ref().map(|b| b.0), Some(5), "{v:?}");
}

/// Expired records are purged with their index entries.
#[tokio::test]
async fn purge_expired() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let now = crate::now_ms();
    let mut b = body(1, "Manis javanica", "KE");
    b.created_at = now - 10_000;
    b.expires_at = now + 60_000;
    let r = rec(b);
    put(&store, &r).await.expect("insert");
    assert_eq!(store.purge_expired(now).await.expect("purge"), 0);
    assert_eq!(store.purge_expired(now + 120_000).await.expect("purge"), 1);
    assert!(store.get(&r.id()).expect("get").is_none());
    assert!(
        store
            .query(&species_query("Manis javanica"))
            .expect("q")
            .records
            .is_empty()
    );
}

/// A data dir of another agency is refused.
#[test]
fn refuses_foreign_data_dir() {
    let dir = tempfile::tempdir().expect("tmp");
    drop(Store::open(dir.path(), "KE-KWS").expect("open"));
    let e = Store::open(dir.path(), "ZA-DFFE").expect_err("opened foreign dir");
    assert!(e.to_string().contains("belongs to agency KE-KWS"), "{e}");
}

/// One batch holding a record, its duplicate, a new version and a
/// retraction of that version is applied in order, as if sent one by one.
#[tokio::test]
async fn one_batch_in_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let v1 = rec(body(1, "Manis javanica", "KE"));
    let mut b2 = body(2, "Manis javanica", "KE");
    b2.supersedes = v1.id().to_hex();
    let v2 = rec(b2);
    let r = rec(retraction(&v2, "KE-KWS", 3));
    let results = store
        .insert(vec![item(&v1), item(&v1), item(&v2), item(&r)], Vec::new())
        .await
        .expect("insert");
    assert!(matches!(results[0], Ok(Inserted::New(1))), "{results:?}");
    assert!(
        matches!(results[1], Ok(Inserted::Duplicate(id)) if id == v1.id()),
        "{results:?}"
    );
    assert!(matches!(results[2], Ok(Inserted::New(2))), "{results:?}");
    assert!(matches!(results[3], Ok(Inserted::New(3))), "{results:?}");
    assert!(store.get(&v1.id()).expect("get").is_some());
    assert!(
        store.get(&v2.id()).expect("get").is_none(),
        "retracted in the same batch"
    );
    assert!(store.tombstone(&v2.id()).expect("t").is_some());
    let q = store
        .query(&species_query("Manis javanica"))
        .expect("q")
        .records;
    assert!(q.is_empty(), "v1 is superseded and v2 retracted: {q:?}");
    assert_eq!(store.feed_head().expect("head"), 3);
}

/// The record and tombstone counts come from counters kept with every
/// batch; after an unclean stop (counters possibly ahead of the records
/// that survived) they are recounted at open.
#[tokio::test]
async fn counters_follow_the_records_and_are_recounted_after_an_unclean_stop() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let a = rec(body(1, "Panthera tigris", "IN"));
    let b = rec(body(2, "Manis javanica", "VN"));
    put(&store, &a).await.expect("a");
    put(&store, &b).await.expect("b");
    put(&store, &b).await.expect("duplicate");
    put(&store, &rec(retraction(&a, "KE-KWS", 3)))
        .await
        .expect("retract a");
    // b and the retraction record; a is gone and tombstoned.
    assert_eq!(store.record_count().expect("count"), 2);
    assert_eq!(store.record_count().expect("count"), store.len() as u64);
    assert_eq!(store.tombstone_count().expect("tombs"), 1);
    store.close();
    drop(store);
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    assert_eq!(store.record_count().expect("count"), 2, "clean stop: kept");
    store.close();
    drop(store);
    // A crash mid-batch: counters ahead of the rows, no clean mark.
    crashed(dir.path(), |db| {
        let counts = db.open_tree("field_count").expect("counts");
        counts
            .insert(keys::records_count_key(), &40u64.to_be_bytes())
            .expect("skew");
        counts
            .insert(keys::stat_key(Field::Species, "ghost"), &7u64.to_be_bytes())
            .expect("skew");
    });
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen after crash");
    assert_eq!(store.record_count().expect("count"), 2, "recounted");
    assert_eq!(store.tombstone_count().expect("tombs"), 1);
    let species: Vec<String> = store
        .counts(Field::Species)
        .expect("c")
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(species, vec!["manis javanica".to_string()]);
}

/// An old store (records by id beside a seq → id feed, one index key per
/// term and record) is converted at open: records move to their feed
/// positions, the feed head is kept, the index is rebuilt as posting
/// blocks, queries answer as before, and a deletion then removes the
/// record from its blocks.
#[tokio::test]
async fn older_schemas_are_converted_at_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let mut ids = Vec::new();
    for n in 0..1500 {
        let r = rec(body(n, "Panthera tigris", "IN"));
        ids.push(r.id());
        put(&store, &r).await.expect("insert");
    }
    let head = store.feed_head().expect("head");
    store.close();
    drop(store);
    {
        // Make it look like schema 1: records by id beside a seq → id feed
        // (whose last entry is a record deleted since), old-style index
        // keys, no blocks.
        let db = open_sled(dir.path(), sled::Config::new()).expect("raw sled");
        let rows = db.open_tree("seq_record").expect("rows");
        let by_id = db.open_tree("id_record").expect("old records");
        let feed = db.open_tree("seq_id").expect("old feed");
        for kv in rows.iter() {
            let (k, v) = kv.expect("row");
            let sr = Row::decode(v.as_ref()).expect("decode");
            let id = RecordId::of_body(&sr.signed.expect("signed").body);
            by_id.insert(id.as_bytes(), v).expect("old row");
            feed.insert(k, id.as_bytes()).expect("old feed entry");
        }
        feed.insert((head + 1).to_be_bytes(), &[9u8; 32])
            .expect("entry of a deleted record");
        rows.clear().expect("clear");
        db.open_tree("id_seq").expect("ids").clear().expect("clear");
        db.open_tree("meta")
            .expect("meta")
            .remove(keys::NEXT_SEQ_KEY)
            .expect("mark");
        let index = db.open_tree("index").expect("index");
        index.clear().expect("clear");
        db.open_tree("batch_block")
            .expect("refs")
            .clear()
            .expect("clear");
        let mut old = keys::index_prefix(Field::Species, "panthera tigris");
        old.extend_from_slice(&[7u8; 40]);
        index.insert(old, &[]).expect("old key");
        db.open_tree("meta")
            .expect("meta")
            .insert("schema", &1u64.to_be_bytes())
            .expect("schema");
        db.flush().expect("flush");
    }
    let store = Store::open(dir.path(), "KE-KWS").expect("upgrade");
    // The feed head does not go back: peers' cursors stay valid.
    assert_eq!(store.feed_head().expect("head"), head + 1);
    let names = store.trees().db.tree_names();
    assert!(
        !names
            .iter()
            .any(|n| n.as_ref() == b"id_record" || n.as_ref() == b"seq_id"),
        "old trees dropped"
    );
    assert_eq!(store.len(), 1500);
    for id in [ids[0], ids[777], ids[1499]] {
        assert_eq!(store.get(&id).expect("get").expect("held").record.id(), id);
    }
    let mut q = species_query("Panthera tigris");
    q.limit = 1000;
    let first = store.query(&q).expect("q");
    assert_eq!(first.records.len(), 1000);
    let newest: Vec<i64> = first
        .records
        .iter()
        .map(|s| s.record.body().created_at)
        .collect();
    assert!(newest.windows(2).all(|w| w[0] >= w[1]), "newest first");
    q.after = first.next.as_deref().and_then(keys::decode_cursor);
    let second = store.query(&q).expect("q2");
    assert_eq!(second.records.len(), 500);
    assert!(second.next.is_none());
    // A retraction removes the target from its (rebuilt) block.
    let target = store.get(&ids[7]).expect("get").expect("held").record;
    put(&store, &rec(retraction(&target, "KE-KWS", 9_999)))
        .await
        .expect("retract");
    q.after = None;
    q.limit = 1000;
    let mut all = Vec::new();
    loop {
        let p = store.query(&q).expect("q");
        all.extend(p.records.into_iter().map(|s| s.record.id()));
        match p.next.as_deref().and_then(keys::decode_cursor) {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!(all.len(), 1499);
    assert!(!all.contains(&ids[7]));
    // The rebuild packed the first batch's rare terms (1,024 records).
    let mut rare_blocks = 0;
    let blocks: usize = store
        .trees()
        .index
        .iter()
        .map(|kv| {
            let (k, v) = kv.expect("kv");
            if k.first() == Some(&keys::RARE_FILTER) {
                0
            } else if k.first() == Some(&keys::RARE) {
                rare_blocks += 1;
                crate::storage::rare::items(&v)
                    .map(|(_, es)| es.len() / keys::SUFFIX)
                    .sum()
            } else {
                v.len() / keys::SUFFIX
            }
        })
        .sum();
    assert!(rare_blocks > 0, "rare blocks written");
    // Every entry of every held record once; the retracted one's are gone.
    let mut expected = 0usize;
    store
        .for_each_record(|s| {
            let unique: HashSet<_> = terms::of(&s.record).into_iter().collect();
            expected += unique.len();
            Ok(())
        })
        .expect("records");
    assert_eq!(blocks, expected, "entries in blocks");
}

/// What follows from an insert (a peer's cursor, receipts to send) is
/// decided on the insert's results and made durable by the same flush.
#[tokio::test]
async fn insert_then_writes_follow_ups_with_the_records() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let old = rec(body(1, "Manis javanica", "KE"));
    put(&store, &old).await.expect("insert");
    let new = rec(body(2, "Manis javanica", "KE"));
    let flushes = store.flushes();
    let then: AfterInsert = Box::new(|results, next_id| {
        let new = results
            .iter()
            .filter(|r| matches!(r, Ok(Inserted::New(_))))
            .count() as u64;
        let first = next_id().expect("id");
        let second = next_id().expect("id");
        assert!(second > first, "queue numbers increase");
        vec![
            PeerWrite::Cursor {
                peer: "ZA-DFFE".into(),
                seq: new,
            },
            PeerWrite::Delivered(QueueKey(b"gone".to_vec())),
        ]
    });
    let results = store
        .insert_then(vec![item(&old), item(&new)], Vec::new(), Some(then))
        .await
        .expect("insert");
    assert!(matches!(results[0], Ok(Inserted::Duplicate(_))));
    assert!(matches!(results[1], Ok(Inserted::New(_))));
    assert_eq!(store.flushes() - flushes, 1, "one flush for both");
    store.close();
    drop(store);
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    assert!(store.get(&new.id()).expect("get").is_some());
    assert_eq!(
        store.cursor("ZA-DFFE").expect("cursor"),
        1,
        "the follow-up counted the one new record"
    );
}

/// A batch cut by a crash can leave an id entry whose record row (written
/// last) never reached the disk: the next start drops it, so the record is
/// not "held" and a peer's copy is stored when it comes again.
#[tokio::test]
async fn an_id_without_its_record_row_is_dropped_after_a_crash() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let kept = rec(body(1, "Manis javanica", "KE"));
    let cut = rec(body(2, "Manis javanica", "KE"));
    put(&store, &kept).await.expect("insert");
    put(&store, &cut).await.expect("insert");
    let seq = store.get(&cut.id()).expect("get").expect("held").seq;
    store.close();
    drop(store);
    crashed(dir.path(), |db| {
        db.open_tree("seq_record")
            .expect("rows")
            .remove(seq.to_be_bytes())
            .expect("remove");
    });
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    assert!(store.get(&cut.id()).expect("get").is_none());
    assert_eq!(store.record_count().expect("count"), 1);
    let again = put(&store, &cut).await.expect("stored again");
    match again {
        Inserted::New(s) => assert!(s > seq, "a new position, never a reused one"),
        other => panic!("not stored again: {other:?}"),
    }
    assert!(store.get(&kept.id()).expect("get").is_some());
}

/// A row left without its id (a deletion cut by a crash) is dropped at the
/// next unclean start: it is neither served in the feed nor counted.
#[tokio::test]
async fn a_record_row_without_its_id_is_dropped_after_a_crash() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let kept = rec(body(1, "Manis javanica", "KE"));
    let gone = rec(body(2, "Manis javanica", "KE"));
    put(&store, &kept).await.expect("insert");
    put(&store, &gone).await.expect("insert");
    store.close();
    drop(store);
    crashed(dir.path(), |db| {
        db.open_tree("id_seq")
            .expect("ids")
            .remove(gone.id().as_bytes())
            .expect("remove");
    });
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    let head = store.feed_head().expect("head");
    let feed: Vec<RecordId> = store
        .feed_after(0, head, 100)
        .expect("feed")
        .into_iter()
        .map(|s| s.record.id())
        .collect();
    assert_eq!(feed, vec![kept.id()]);
    assert_eq!(store.len(), 1);
    assert_eq!(store.record_count().expect("count"), 1);
}

/// Side writes keep their order inside one group commit: a cursor reset
/// queued after an insert's cursor move wins.
#[tokio::test]
async fn a_side_write_after_an_insert_follow_up_wins() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    for n in 0..20 {
        let r = rec(body(n, "Manis javanica", "KE"));
        let cursor = |seq| PeerWrite::Cursor {
            peer: "ZA-DFFE".into(),
            seq,
        };
        let then: AfterInsert = Box::new(move |_, _| vec![cursor(9)]);
        // Both queued before either is awaited: usually one group.
        let (a, b) = tokio::join!(
            store.insert_then(vec![item(&r)], Vec::new(), Some(then)),
            store.write_peer_state(vec![cursor(0)]),
        );
        a.expect("insert");
        b.expect("reset");
        assert_eq!(store.cursor("ZA-DFFE").expect("cursor"), 0, "round {n}");
    }
}

/// A local new version of a record retracted meanwhile is refused by the
/// writer too (an import checks references before the batch ahead of it
/// is stored).
#[tokio::test]
async fn a_local_version_of_a_retracted_record_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let v1 = rec(body(1, "Manis javanica", "KE"));
    put(&store, &v1).await.expect("insert");
    put(&store, &rec(retraction(&v1, "KE-KWS", 2)))
        .await
        .expect("retract");
    let mut b2 = body(3, "Manis javanica", "KE");
    b2.supersedes = v1.id().to_hex();
    let e = put(&store, &rec(b2))
        .await
        .expect_err("version of a retracted record");
    assert!(matches!(e, StoreError::Retracted { .. }), "{e}");
}
