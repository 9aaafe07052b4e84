//! The deconfliction filter's log of runs, read from any position; alerts
//! numbered in order, one per record and value.

use crate::storage::{FilterState, Store};
use wildnet_proto::v1 as pb;

fn token(n: u8) -> [u8; 16] {
    [n; 16]
}

#[tokio::test]
async fn the_filter_reads_from_any_position_across_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let mut state = FilterState {
        epoch: 3,
        ..Default::default()
    };
    let mut n = 0u8;
    for run in [3u8, 2, 4] {
        let tokens = (0..run)
            .map(|_| {
                n += 1;
                (token(n), format!("phone:+2547{n:08}"))
            })
            .collect();
        state = store.filter_add(state, tokens).await.expect("add");
    }
    // A token already in the filter is not added twice.
    state = store
        .filter_add(state, vec![(token(2), "phone:x".into())])
        .await
        .expect("again");
    assert_eq!(state.count, 9);
    assert_eq!(store.filter_state().expect("state"), Some(state));
    let all: Vec<u8> = (1..=9).flat_map(|i| token(i).to_vec()).collect();
    for since in 0..=9usize {
        let got = store.filter_tokens(3, since as u64, 100).expect("read");
        assert_eq!(got, all[since * 16..].to_vec(), "from {since}");
    }
    assert!(
        store
            .filter_tokens(2, 0, 100)
            .expect("other epoch")
            .is_empty()
    );
    assert_eq!(
        store.filter_key(3, &token(4)).expect("key").as_deref(),
        Some("phone:+254700000004")
    );
    assert_eq!(store.filter_drop_before(4, 100).await.expect("drop"), 9 + 3);
    assert!(store.filter_tokens(3, 0, 100).expect("dropped").is_empty());
}

#[tokio::test]
async fn alerts_are_numbered_in_order_and_marked_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let id = "ab".repeat(32);
    let alert = |key: &str| pb::Alert {
        record: id.clone(),
        selector: key.into(),
        ..Default::default()
    };
    let made = store
        .add_alerts(vec![alert("phone:+254712345678"), alert("handle:x:y")], 7)
        .await
        .expect("add");
    assert!(made[0].id < made[1].id);
    assert_eq!(store.alert_mark().expect("mark"), Some(7));
    let rid = id.parse().expect("id");
    assert!(store.alerted(&rid, "handle:x:y").expect("read"));
    assert!(!store.alerted(&rid, "handle:x:z").expect("read"));
    let mut first = store.alert(made[0].id).expect("read").expect("held");
    first.acked = true;
    store.put_alert(&first).await.expect("ack");
    let unacked = store.alerts(0, true, 10).expect("list");
    assert_eq!(
        unacked.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![made[1].id]
    );
    assert_eq!(store.alerts(made[0].id, false, 10).expect("after").len(), 1);
    // The dashboard's reads: newest first, and the unacknowledged count.
    let third = store
        .add_alerts(vec![alert("email:a@b.example")], 8)
        .await
        .expect("add");
    let ids = |v: Vec<pb::Alert>| v.iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.alerts_newest(false, 2).expect("newest")),
        vec![third[0].id, made[1].id]
    );
    assert_eq!(
        ids(store.alerts_newest(true, 10).expect("newest unacked")),
        vec![third[0].id, made[1].id]
    );
    assert_eq!(store.unacked_alerts().expect("count"), 2);
}
