//! A stored record's row carries its id and envelope, so a source serves
//! the feed without decoding bodies; rows stored before envelopes are read
//! the same way by decoding them.

use prost::Message;

use super::{body, crashed, put, rec};
use crate::record::{Envelope, Record};
use crate::storage::{Row, Store};

fn feed_of(store: &Store) -> Vec<(u64, crate::record::RecordId, Envelope)> {
    let head = store.feed_head().expect("head");
    let entries = store.feed_entries_after(0, head, 100).expect("feed");
    entries
        .into_iter()
        .map(|e| (e.seq, e.id, e.envelope))
        .collect()
}

fn want(records: &[&Record]) -> Vec<(crate::record::RecordId, Envelope)> {
    records
        .iter()
        .map(|r| (r.id(), Envelope::of(r.body())))
        .collect()
}

#[tokio::test]
async fn feed_entries_carry_the_id_and_envelope_of_each_record() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let mut b = body(1, "Manis javanica", "KE");
    b.expires_at = 1_900_000_000_000;
    let (one, two) = (rec(b), rec(body(2, "Loxodonta africana", "TZ")));
    put(&store, &one).await.expect("insert");
    put(&store, &two).await.expect("insert");
    let feed = feed_of(&store);
    let got: Vec<_> = feed.iter().map(|(_, id, e)| (*id, e.clone())).collect();
    assert_eq!(got, want(&[&one, &two]));
    // The row itself holds them: a source need not decode the body.
    let seq = feed[0].0;
    let v = store.trees().records.get(seq.to_be_bytes()).expect("read");
    let row = Row::decode(v.expect("row").as_ref()).expect("decode");
    assert_eq!(row.id, one.id().as_bytes().to_vec());
    assert_eq!(row.envelope, Some(Envelope::of(one.body())));
}

#[tokio::test]
async fn rows_stored_before_envelopes_are_decoded_to_the_same_entries() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let (one, two) = (
        rec(body(1, "Manis javanica", "KE")),
        rec(body(2, "Panthera tigris", "VN")),
    );
    put(&store, &one).await.expect("insert");
    put(&store, &two).await.expect("insert");
    let before = feed_of(&store);
    store.close();
    drop(store);
    crashed(dir.path(), |db| {
        let records = db.open_tree("seq_record").expect("records");
        for kv in records.iter() {
            let (k, v) = kv.expect("row");
            let mut row = Row::decode(v.as_ref()).expect("decode");
            row.id.clear();
            row.envelope = None;
            records.insert(k, row.encode_to_vec()).expect("rewrite");
        }
    });
    let store = Store::open(dir.path(), "KE-KWS").expect("reopen");
    assert_eq!(feed_of(&store), before);
    let got: Vec<_> = before.into_iter().map(|(_, id, e)| (id, e)).collect();
    assert_eq!(got, want(&[&one, &two]));
}
