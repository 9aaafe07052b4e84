//! Rare blocks through the store: a bulk batch packs the terms it holds
//! few entries of, every read finds them, a deletion removes them, and a
//! normaliser change drops the older keys from them.

use super::{body, item, put, rec, retraction};
use crate::record::terms::Field;
use crate::storage::{Query, Store, keys, rare};
use wildnet_proto::v1 as pb;

/// Listing `n` with a URL no other listing has.
fn listing(n: i64) -> crate::record::Record {
    let mut b = body(n, "Manis javanica", "KE");
    if let Some(pb::record_body::Payload::Listing(l)) = &mut b.payload {
        l.selectors.push(pb::Selector {
            kind: pb::SelectorKind::Url as i32,
            value: format!("https://shop.example/item/{n}"),
        });
    }
    rec(b)
}

fn url(n: i64) -> String {
    format!("url:https://shop.example/item/{n}")
}

fn found(store: &Store, field: Field, value: &str) -> Vec<crate::record::RecordId> {
    let q = Query {
        terms: vec![(field, value.into())],
        limit: 1000,
        ..Default::default()
    };
    let page = store.query(&q).expect("query");
    page.records.iter().map(|s| s.record.id()).collect()
}

/// Keys in `index`: rare blocks, and all.
fn index_keys(store: &Store) -> (usize, usize) {
    let index = &store.trees().index;
    let rare = index.scan_prefix([keys::RARE]).count();
    (rare, index.len())
}

async fn bulk(store: &Store, records: &[crate::record::Record]) {
    let items = records.iter().map(item).collect();
    for r in store.insert(items, Vec::new()).await.expect("insert") {
        r.expect("stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_batch_packs_its_rare_terms_and_every_read_finds_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let records: Vec<_> = (1000..2100).map(listing).collect();
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    bulk(&store, &records).await;
    // 1,100 records with a unique URL and a unique word each: 2,200 rare
    // terms in 128 rare blocks, plus the shared terms' own blocks.
    let (rare_keys, all) = index_keys(&store);
    assert_eq!(rare_keys, 128);
    assert!(all < 300, "{all} index keys for 1,100 records");
    let r = &records[50];
    assert_eq!(found(&store, Field::Selector, &url(1050)), vec![r.id()]);
    assert_eq!(found(&store, Field::Word, "1050"), vec![r.id()]);
    let (held, more) = store.holding(&url(1050), 10).expect("holding");
    assert_eq!((held.len(), more), (1, false));
    let (seqs, more) = store.postings(&url(1050), 5).expect("postings");
    assert_eq!((seqs, more), (vec![held[0].seq], false));
    let counts = store.selector_counts().expect("counts");
    assert_eq!(counts.len(), 1100);
    assert!(counts.contains(&(url(1050), 1)));
    // A small batch keeps its terms in their own blocks; both are read.
    let late = listing(1050 + 5000);
    put(&store, &late).await.expect("one more");
    assert_eq!(index_keys(&store).0, 128);
    assert_eq!(found(&store, Field::Species, "manis javanica").len(), 1000);
    // A retraction removes the target's rare entries, and only them.
    put(&store, &rec(retraction(r, "KE-KWS", 9_000)))
        .await
        .expect("retract");
    assert!(found(&store, Field::Selector, &url(1050)).is_empty());
    let prefix = keys::index_prefix(Field::Selector, &url(1050));
    assert!(
        rare::all_entries(store.trees(), &prefix)
            .expect("entries")
            .is_empty()
    );
    assert_eq!(found(&store, Field::Selector, &url(1051)).len(), 1);
    drop(store);
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    assert_eq!(found(&store, Field::Word, "1999").len(), 1);
}

/// Rewrites a closed store's rare items of this normaliser's correlation
/// keys as if normaliser `old` had written them, and records `old`.
fn as_if_older_normaliser(path: &std::path::Path, old: u8) {
    let db = crate::storage::open_sled(path, sled::Config::new()).expect("raw sled");
    let index = db.open_tree("index").expect("index");
    for kv in index.scan_prefix([keys::RARE]) {
        let (k, v) = kv.expect("block");
        let mut value = Vec::new();
        for (p, es) in rare::items(&v) {
            let mut p = p.to_vec();
            if p[0] == Field::Selector as u8 {
                p[1] = old;
            }
            let es: Vec<keys::Entry> = es
                .chunks_exact(keys::SUFFIX)
                .map(|c| c.try_into().expect("entry"))
                .collect();
            rare::push_item(&mut value, &p, &es);
        }
        index.insert(k, value).expect("rewrite");
    }
    db.open_tree("meta")
        .expect("meta")
        .insert(keys::NORMALISER_KEY, &[old])
        .expect("version");
    db.flush().expect("flush");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normaliser_change_drops_older_keys_from_rare_blocks() {
    let dir = tempfile::tempdir().expect("tmp");
    let records: Vec<_> = (1000..2100).map(listing).collect();
    {
        let store = Store::open(dir.path(), "KE-KWS").expect("open");
        bulk(&store, &records).await;
    }
    let old = keys::NORMALISER - 1;
    as_if_older_normaliser(dir.path(), old);
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while store.selector_reindex().expect("progress").is_some() {
        assert!(std::time::Instant::now() < deadline, "re-index stuck");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stale = rare::scan(&store.trees().index)
        .flat_map(|r| r.expect("scan"))
        .filter(|(p, _)| p[0] == Field::Selector as u8 && p[1] == old)
        .count();
    assert_eq!(stale, 0, "older keys dropped from rare blocks");
    // Found by this normaliser's key once, and the words stayed.
    assert_eq!(found(&store, Field::Selector, &url(1777)).len(), 1);
    assert_eq!(found(&store, Field::Word, "1777").len(), 1);
    assert_eq!(store.selector_counts().expect("counts").len(), 1100);
}

/// A crash after a bulk batch's filter and rare blocks reached the disk
/// but before its id entries and rows (the order of `write_batch`): the
/// entries lead nowhere, nothing of the batch is held, and the same
/// records (and drafts) store again at new positions, found once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_cut_before_its_rows_leaves_rare_entries_that_lead_nowhere() {
    let dir = tempfile::tempdir().expect("tmp");
    let records: Vec<_> = (1000..2100).map(listing).collect();
    let drafts = |rs: &[crate::record::Record]| -> Vec<crate::storage::InsertItem> {
        rs.iter()
            .map(|r| crate::storage::InsertItem {
                record: r.clone(),
                draft_key: Some(r.id().as_bytes().to_owned()),
                from: String::new(),
            })
            .collect()
    };
    let before = {
        let store = Store::open(dir.path(), "KE-KWS").expect("open");
        store
            .insert(drafts(&records), Vec::new())
            .await
            .expect("insert");
        store.feed_head().expect("head")
    };
    super::crashed(dir.path(), |db| {
        let (rows, ids) = (
            db.open_tree("seq_record").expect("rows"),
            db.open_tree("id_seq").expect("ids"),
        );
        rows.clear().expect("rows cut");
        ids.clear().expect("ids cut");
    });
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    assert_eq!(store.len(), 0);
    assert!(found(&store, Field::Selector, &url(1050)).is_empty());
    let again = store
        .insert(drafts(&records), Vec::new())
        .await
        .expect("again");
    for r in again {
        match r.expect("stored") {
            crate::storage::Inserted::New(seq) => assert!(seq > before, "a new position"),
            other => panic!("not stored again: {other:?}"),
        }
    }
    assert_eq!(
        found(&store, Field::Selector, &url(1050)),
        vec![records[50].id()]
    );
    assert_eq!(found(&store, Field::Word, "2099").len(), 1);
}
