//! `wildnet admin backup` of a running node and `wildnet admin restore`
//! into its stopped agency dir: the restored store holds exactly what was
//! backed up, passes the check, and the node resumes its peers from the
//! backup's cursors.

use std::collections::BTreeSet;

use wildnet_proto::v1 as pb;
use wildnet_testbed::{FedSpec, Federation, Kind, drafts};
use wildnet_tests::{bin, cli_json_at};

type Client = wildnet_proto::v1::agency_client::AgencyClient<tonic::transport::Channel>;

async fn publish(c: &Client, n: usize, what: &str) {
    for i in 0..n {
        let d = drafts::note_with(&format!("{what} {i}"), &[], drafts::federation_wide());
        c.clone().publish(d).await.expect("publish");
    }
}

async fn notes(c: &Client) -> BTreeSet<String> {
    let q = pb::QueryRequest {
        kind: "note".into(),
        limit: 1000,
        ..Default::default()
    };
    let r = c.clone().query(q).await.expect("query").into_inner();
    r.records.into_iter().map(|r| r.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_node_holds_its_backup_and_resumes_its_peers() {
    let spec = FedSpec::new(&["KE-KWS", "ZA-DFFE"]);
    let mut fed = Federation::start(&spec, Kind::InProcess)
        .await
        .expect("start");
    let ke = fed.node("KE-KWS").client().await.expect("client");
    let za = fed.node("ZA-DFFE").client().await.expect("client");
    publish(&ke, 3, "KE before the backup").await;
    publish(&za, 5, "ZA before the backup").await;
    crate::sync::wait_until("KE to hold 8 notes", || async {
        notes(&ke).await.len() == 8
    })
    .await;
    let before = notes(&ke).await;

    let dir = fed.node("KE-KWS").dir.clone();
    let backup = fed.root.join("ke-backup");
    let b = cli_json_at(&dir, &["admin", "backup", backup.to_str().expect("path")]);
    assert_eq!(b["records"].as_u64(), Some(8), "{b}");
    assert!(backup.join("backup.json").exists());
    let again = std::process::Command::new(bin("wildnet"))
        .arg("--node")
        .arg(&dir)
        .args(["admin", "backup"])
        .arg(&backup)
        .output()
        .expect("run");
    assert!(!again.status.success(), "a backup over another was written");
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // After the backup: lost on KE by the restore; ZA's come back by sync.
    publish(&ke, 2, "KE after the backup").await;
    publish(&za, 4, "ZA after the backup").await;
    let restored = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let seen = restored.clone();
    fed.restart_with("KE-KWS", move |dir| {
        let db = dir.join("data/db");
        // Refused while the data is in place.
        let refused = std::process::Command::new(bin("wildnet"))
            .arg("--node")
            .arg(dir)
            .args(["admin", "restore"])
            .arg(&backup)
            .output()
            .expect("run");
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("move it away first"));
        std::fs::rename(&db, dir.join("data/db.old")).expect("move the data away");
        let r = cli_json_at(dir, &["admin", "restore", backup.to_str().expect("path")]);
        assert_eq!(r["records"].as_u64(), Some(8), "{r}");
        let store = wildnet_node::storage::Store::open(&db, "KE-KWS").expect("open restored");
        let ids = store.feed_entries_after(0, u64::MAX, 10_000).expect("feed");
        *seen.lock().expect("lock") = ids.into_iter().map(|e| e.id.to_string()).collect();
        store.close();
    })
    .await
    .expect("restart KE on the restored data");
    assert_eq!(
        *restored.lock().expect("lock"),
        before,
        "exactly what was backed up"
    );

    let ke = fed.node("KE-KWS").client().await.expect("client");
    let check = ke
        .clone()
        .check(pb::CheckRequest {})
        .await
        .expect("check")
        .into_inner();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    // ZA's four later notes arrive: the peer link resumed.
    crate::sync::wait_until("KE to pull ZA's later notes", || async {
        notes(&ke).await.len() >= 12
    })
    .await;
    fed.stop().await.expect("stop");
}
