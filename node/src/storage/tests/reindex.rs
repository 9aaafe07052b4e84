//! Correlation keys are this node's: when its normaliser changes, the
//! selectors of every stored record are re-indexed in the background, the
//! older keys are dropped, and a later deletion still finds its entries.

use super::{body, put, rec, retraction};
use crate::record::terms::Field;
use crate::storage::{Query, Store, decode_row, keys};
use wildnet_proto::v1 as pb;

/// Listing `n` with the URL as an older normaliser kept it (tracking
/// parameter and all) and, for every tenth, a phone.
fn listing(n: i64) -> crate::record::Record {
    let mut b = body(n, "Manis javanica", "KE");
    if let Some(pb::record_body::Payload::Listing(l)) = &mut b.payload {
        l.selectors.push(pb::Selector {
            kind: pb::SelectorKind::Url as i32,
            value: format!("https://shop.example/item/{}?utm_source=fb", n % 10),
        });
    }
    rec(b)
}

fn by_selector(store: &Store, key: &str) -> usize {
    let q = Query {
        terms: vec![(Field::Selector, key.into())],
        limit: 1000,
        ..Default::default()
    };
    store.query(&q).expect("query").records.len()
}

/// Entries the index holds under one correlation key (read from the
/// blocks themselves, as no query re-check hides a stale one).
fn entries(store: &Store, key: &str) -> usize {
    let prefix = keys::index_prefix(Field::Selector, key);
    store
        .trees()
        .index
        .scan_prefix(&prefix)
        .map(|kv| kv.expect("read").1.len() / keys::SUFFIX)
        .sum()
}

/// Rewrites a closed store's selector index as normaliser 1 left it: the
/// signed value as the key, no version byte, version 1 in `meta`.
fn as_if_normaliser_1(path: &std::path::Path) {
    let db = crate::storage::open_sled(path, sled::Config::new()).expect("raw sled");
    let (index, records, meta) = (
        db.open_tree("index").expect("index"),
        db.open_tree("seq_record").expect("records"),
        db.open_tree("meta").expect("meta"),
    );
    for k in index.range(keys::selector_keys_of(keys::NORMALISER)).keys() {
        index.remove(k.expect("key")).expect("remove");
    }
    for kv in records.iter() {
        let (k, v) = kv.expect("row");
        let seq = keys::u64_from(&k);
        let (row, r) = decode_row(seq, &v).expect("decode");
        let Some(pb::record_body::Payload::Listing(l)) = &r.body().payload else {
            continue;
        };
        for s in &l.selectors {
            let mut prefix = vec![Field::Selector as u8];
            prefix.extend_from_slice(crate::record::selector::text(s).as_bytes());
            prefix.push(0);
            let t = r.body().created_at;
            let key = keys::block_key(&prefix, t, t, row.index_batch, seq as u16);
            index.insert(key, &keys::entry(t, seq)).expect("v1 entry");
        }
    }
    meta.insert(keys::NORMALISER_KEY, &[1]).expect("version 1");
    db.flush().expect("flush");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normaliser_change_reindexes_selectors_in_the_background() {
    let dir = tempfile::tempdir().expect("tmp");
    let key3 = "url:https://shop.example/item/3";
    let records: Vec<_> = (0..3000).map(listing).collect();
    {
        let store = Store::open(dir.path(), "KE-KWS").expect("open");
        for chunk in records.chunks(500) {
            let items = chunk.iter().map(super::item).collect();
            store.insert(items, Vec::new()).await.expect("insert");
        }
        assert_eq!(by_selector(&store, key3), 300, "this normaliser's keys");
    }
    as_if_normaliser_1(dir.path());
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    let fresh = listing(3003);
    put(&store, &fresh)
        .await
        .expect("a record stored during the re-index");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while store.selector_reindex().expect("progress").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "re-index did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        by_selector(&store, key3),
        301,
        "old rows found by the new key"
    );
    assert_eq!(entries(&store, key3), 301, "one entry per record");
    let left = store.trees().index.range(keys::selector_keys_of(1)).count();
    assert_eq!(left, 0, "normaliser 1's keys are dropped");
    assert_eq!(
        store
            .trees()
            .meta
            .get(keys::NORMALISER_KEY)
            .expect("meta")
            .as_deref(),
        Some(&[keys::NORMALISER][..])
    );
    let old = &records[13];
    put(&store, &rec(retraction(old, "KE-KWS", 5000)))
        .await
        .expect("retract");
    assert_eq!(
        entries(&store, key3),
        300,
        "the deletion found its re-indexed entry"
    );
    assert!(store.get(&old.id()).expect("get").is_none());
}
