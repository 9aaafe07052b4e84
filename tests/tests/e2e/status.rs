//! `wildnet status`: one screen, as JSON too, and exit code 4 exactly when
//! something needs attention — a peer that is down, an alert nobody
//! acknowledged.

use std::process::Command;

use wildnet_proto::v1 as pb;
use wildnet_testbed::drafts::{federation_wide, note_with};
use wildnet_tests::bin;
use wildnet_tests::fed::federation;

fn status(dir: &std::path::Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(bin("wildnet"))
        .arg("--node")
        .arg(dir)
        .args(["--format", "json", "status"])
        .output()
        .expect("run wildnet status");
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_node_and_exits_4_when_something_needs_attention() {
    let mut fed = federation(&["KE-KWS", "ZA-DFFE"], &[], None).await;
    fed.wait_peer_state("KE-KWS", &["ZA-DFFE"], "authenticated")
        .await
        .expect("links");
    let ke_dir = fed.node("KE-KWS").dir.clone();
    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    ke.publish(note_with("a note", &[], federation_wide()))
        .await
        .expect("publish");
    let (code, v) = status(&ke_dir);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["agency"], "KE-KWS");
    assert_eq!(v["records"], 1);
    assert_eq!(v["by_kind"]["note"], 1, "{v}");
    assert!(v["disk_bytes"].as_u64().is_some_and(|b| b > 0), "{v}");
    assert_eq!(v["peers"][0]["agency"], "ZA-DFFE");
    assert_eq!(v["attention"], serde_json::json!([]));

    // A watched value arrives: an alert nobody acknowledged.
    ke.watch_add(pb::WatchRequest {
        selector: "phone:+254700111222".into(),
        note: "courier".into(),
    })
    .await
    .expect("watch");
    ke.publish(note_with(
        "seen",
        &["phone:+254700111222"],
        federation_wide(),
    ))
    .await
    .expect("publish");
    let v = wildnet_testbed::wait::until(
        "status to name the alert",
        wildnet_testbed::wait::DEFAULT,
        || {
            let dir = ke_dir.clone();
            async move {
                let (code, v) = status(&dir);
                Ok((code == Some(4)).then_some(v))
            }
        },
    )
    .await
    .expect("an alert to attend to");
    assert_eq!(v["alerts_unacknowledged"], 1, "{v}");
    assert!(
        v["attention"][0]
            .as_str()
            .is_some_and(|a| a.contains("not acknowledged")),
        "{v}"
    );

    // ZA goes down: named, with what failed.
    fed.node_mut("ZA-DFFE").stop().await.expect("stop ZA");
    let v = wildnet_testbed::wait::until(
        "status to name the peer",
        wildnet_testbed::wait::DEFAULT,
        || {
            let dir = ke_dir.clone();
            async move {
                let (_, v) = status(&dir);
                let named = v["attention"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|x| x.as_str().is_some_and(|s| s.starts_with("peer ZA-DFFE is")))
                });
                Ok(named.then_some(v))
            }
        },
    )
    .await
    .expect("the peer named");
    assert_ne!(v["peers"][0]["state"], "authenticated", "{v}");
    fed.stop().await.expect("stop");
}
