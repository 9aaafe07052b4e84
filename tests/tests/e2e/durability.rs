//! Crash safety: a node killed with SIGKILL keeps every acknowledged write.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wildnet_proto::v1 as pb;
use wildnet_tests::{TestNode, wait_for};

fn note(n: u64, worker: u64) -> pb::PublishRequest {
    wildnet_testbed::drafts::note(
        &format!("crash test {worker}"),
        &format!("observation {n} from worker {worker}"),
        None,
    )
}

/// Concurrent publishers, SIGKILL mid-stream: after restart every publish
/// that was acknowledged is there, signed and queryable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_keeps_every_acknowledged_publish() {
    let mut node = TestNode::init("KE-KWS");
    node.start();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for worker in 0..4u64 {
        let mut client = node.client().await;
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                match client.publish(note(n, worker)).await {
                    Ok(r) => acked.lock().expect("lock").push(r.into_inner().id),
                    Err(_) => break,
                }
            }
        }));
    }
    let probe = acked.clone();
    tokio::task::spawn_blocking(move || {
        wait_for(
            "400 acknowledged publishes",
            Duration::from_secs(60),
            || (probe.lock().expect("lock").len() >= 400).then_some(()),
        )
    })
    .await
    .expect("wait");
    node.kill();
    for t in tasks {
        t.await.expect("publisher task");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 400);

    node.start();
    let mut client = node.client().await;
    for id in &acked {
        let r = client
            .get(pb::GetRequest { id: id.clone() })
            .await
            .unwrap_or_else(|e| panic!("acknowledged record {id} lost after SIGKILL: {e}"));
        assert_eq!(r.into_inner().record.expect("record").signature, "valid");
    }
    let stats = client
        .stats(pb::StatsRequest::default())
        .await
        .expect("stats")
        .into_inner();
    assert!(stats.records as usize >= acked.len());
    let audit = client
        .audit_verify(pb::AuditVerifyRequest {})
        .await
        .expect("verify")
        .into_inner();
    assert!(audit.ok, "audit chain broken after crash: {audit:?}");
}

/// SIGKILL during a CLI import: the node restarts, and importing the same
/// file again completes the set without duplicates.
#[test]
fn sigkill_during_import_then_reimport_completes() {
    let mut node = TestNode::init("TH-DNP");
    node.start();
    let csv = node.cli_ok(&["generate", "listings", "--count", "20000", "--seed", "3"]);
    let path = node.tmp.path().join("big.csv");
    std::fs::write(&path, csv).expect("write");
    let mut import = std::process::Command::new(wildnet_tests::bin("wildnet"))
        .arg("--node")
        .arg(&node.dir)
        .arg("import")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn import");
    wait_for(
        "the import to store records",
        Duration::from_secs(60),
        || {
            let out = node.cli(&["--format", "json", "stats"]);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            (v["records"].as_u64()? > 0).then_some(())
        },
    );
    node.kill();
    let _ = import.wait();
    node.start();
    let before = node.cli_json(&["stats"])["records"]
        .as_u64()
        .expect("records");
    assert!(
        before < 20_000,
        "the import finished before the kill; nothing was tested"
    );
    let out = node.cli(&["--format", "json", "import", path.to_str().expect("path")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sum: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        sum["accepted"].as_u64().expect("n") + sum["duplicates"].as_u64().expect("n"),
        20_000,
        "{sum}"
    );
    assert_eq!(node.cli_json(&["stats"])["records"], 20_000);
    assert_eq!(node.cli_json(&["audit", "verify"])["ok"], true);
}
