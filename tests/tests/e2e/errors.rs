//! The failures a new user hits first, each with a message that names the
//! cause and the fix: no agency dir, a node not running or stopped
//! uncleanly, bad flag values, a key others can read or that is damaged,
//! a certificate not installed yet, a peer that is down.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use wildnet_proto::v1 as pb;
use wildnet_tests::fed::federation;
use wildnet_tests::{TestNode, bin};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_fails_with(out: &std::process::Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(!out.status.success(), "succeeded; stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from: {err}");
    }
}

/// The CLI against a missing agency dir, a node not started, a node that
/// died leaving its socket, and bad flag values.
#[test]
fn cli_errors_name_the_cause_and_the_fix() {
    let empty = tempfile::tempdir().expect("tmp");
    let out = Command::new(bin("wildnet"))
        .arg("--node")
        .arg(empty.path())
        .arg("query")
        .output()
        .expect("run wildnet");
    assert_fails_with(&out, &["node.toml not found", "--node DIR", "wildnet init"]);

    let mut node = TestNode::init("KE-KWS");
    let config = node.config().display().to_string();
    let start = format!("Start it with `wildnet-node --config {config}`");
    assert_fails_with(&node.cli(&["query"]), &["does not exist", &start]);

    node.start();
    assert_fails_with(
        &node.cli(&["query", "--since", "yesterday"]),
        &["--since", "is not a date: use YYYY-MM-DD or RFC 3339"],
    );
    assert_fails_with(&node.cli(&["get", "zz"]), &["at least 8 hex characters"]);
    assert_fails_with(
        &node.cli(&["sync"]),
        &["has not joined a federation", "wildnet federation join"],
    );
    let bad = node.cli(&["query", "--limit", "many"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("invalid value 'many' for '--limit"));

    node.kill();
    assert_fails_with(
        &node.cli(&["query"]),
        &[
            "Connection refused",
            "left over from a node that stopped",
            &start,
        ],
    );
}

fn start_fails(node: &TestNode) -> String {
    let out = Command::new(bin("wildnet-node"))
        .arg("--config")
        .arg(node.config())
        .output()
        .expect("run wildnet-node");
    assert!(!out.status.success(), "the node started");
    stderr(&out)
}

/// The node refuses to start with a signing key others can read (naming
/// the chmod), a damaged key (naming the way back), and a `[federation]`
/// whose certificate is not installed (naming `federation join`).
#[test]
fn node_start_errors_name_the_fix() {
    let node = TestNode::init("KE-KWS");
    let key = node.dir.join("keys/signing.key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let err = start_fails(&node);
    assert!(err.contains("has mode 640"), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", key.display())),
        "{err}"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    let good = std::fs::read(&key).expect("key");
    std::fs::write(&key, b"-----BEGIN PRIVATE KEY-----\nbroken\n").expect("damage");
    let err = start_fails(&node);
    assert!(
        err.contains("is not a valid Ed25519 PKCS#8 PEM key"),
        "{err}"
    );
    assert!(err.contains("Restore it from the agency's backup"), "{err}");
    std::fs::write(&key, good).expect("restore");

    // Admitted and joined, then the certificate goes missing.
    let fed = node.tmp.path().join("fed");
    let cli = |args: &[&str]| {
        let out = Command::new(bin("wildnet"))
            .args(args)
            .output()
            .expect("wildnet");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    let f = fed.display().to_string();
    let dir = node.dir.display().to_string();
    cli(&["federation", "init", "--dir", &f, "--name", "T"]);
    let request = format!("{dir}/admission-request.pb");
    cli(&[
        "federation",
        "admit",
        "--dir",
        &f,
        "--request",
        &request,
        "--address",
        "127.0.0.1:9",
    ]);
    cli(&[
        "federation",
        "join",
        "--dir",
        &dir,
        "--cert",
        &format!("{f}/issued/ke-kws.cert.pem"),
        "--ca",
        &format!("{f}/ca.cert.pem"),
        "--manifest",
        &format!("{f}/manifest.pb"),
    ]);
    std::fs::remove_file(node.dir.join("federation/tls.cert.pem")).expect("rm cert");
    let err = start_fails(&node);
    assert!(err.contains("certificate is not installed yet"), "{err}");
    assert!(err.contains("wildnet federation join --dir"), "{err}");
}

/// A peer whose node is down shows in `wildnet peers` with the cause and
/// what to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_is_down_is_named_with_the_fix() {
    let mut fed = federation(&["KE-KWS", "ZA-DFFE"], &[], None).await;
    fed.wait_peer_state("KE-KWS", &["ZA-DFFE"], "authenticated")
        .await
        .expect("linked");
    let za_addr = fed.node("ZA-DFFE").addr.expect("federated").to_string();
    fed.node_mut("ZA-DFFE").stop().await.expect("stop ZA");
    let c = fed.node("KE-KWS").client().await.expect("client");
    let mut d =
        wildnet_testbed::wait::Deadline::new("ZA-DFFE failing", wildnet_testbed::wait::DEFAULT);
    let problem = loop {
        let mut c = c.clone();
        let _ = c.sync(pb::SyncRequest::default()).await;
        let p = c
            .peers(pb::PeersRequest {})
            .await
            .expect("peers")
            .into_inner();
        let za = p
            .peers
            .iter()
            .find(|p| p.agency == "ZA-DFFE")
            .expect("ZA listed");
        if za.last_error.contains("Connection refused") {
            break za.last_error.clone();
        }
        d.tick(za.last_error.clone()).await.expect("the link fails");
    };
    assert!(
        problem.contains(&format!(
            "nothing listens at {za_addr}: is ZA-DFFE's node running"
        )),
        "{problem}"
    );
    fed.stop().await.expect("stop");
}
