//! What operators and stock tools see: socket mode, health, reflection,
//! the TCP listener, the audit trail of who called, graceful shutdown.

use std::os::unix::fs::PermissionsExt;

use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use wildnet_tests::{TestNode, my_uid};

/// The socket is 0600, the data dir 0700, and each call is audited with the caller's uid.
#[test]
fn socket_mode_and_caller_uid() {
    let mut node = TestNode::init("KE-KWS");
    node.start();
    let mode = std::fs::metadata(node.socket())
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let data = std::fs::metadata(node.dir.join("data"))
        .expect("data dir")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        data, 0o700,
        "the data dir must be private to the node's user"
    );
    node.cli_ok(&["publish", "note", "--text", "who am i"]);
    let entries = node.cli_json(&["audit", "list"]);
    let publish = entries
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "publish")
        .expect("a publish entry");
    assert_eq!(publish["actor"], format!("uid:{}", my_uid()));
}

/// Health (grpc.health.v1) and reflection v1 and v1alpha answer on the
/// socket, so grpcurl-style tools work.
#[tokio::test]
async fn health_and_reflection() {
    let mut node = TestNode::init("KE-KWS");
    node.start();
    let channel = node.channel().await;
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "wildnet.v1.Agency"] {
        let r = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check")
            .into_inner();
        assert_eq!(r.status, ServingStatus::Serving as i32, "{service:?}");
    }

    use tonic_reflection::pb::v1 as r1;
    let mut c = r1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let req = r1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = c
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("v1")
        .into_inner();
    let resp = stream.next().await.expect("a response").expect("ok");
    let Some(r1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        resp.message_response
    else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"wildnet.v1.Agency".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );

    use tonic_reflection::pb::v1alpha as ra;
    let mut c = ra::server_reflection_client::ServerReflectionClient::new(channel);
    let req = ra::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            ra::server_reflection_request::MessageRequest::FileContainingSymbol(
                "wildnet.v1.RecordBody".into(),
            ),
        ),
    };
    let mut stream = c
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("v1alpha")
        .into_inner();
    let resp = stream.next().await.expect("a response").expect("ok");
    assert!(
        matches!(resp.message_response, Some(ra::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()),
        "{resp:?}"
    );
}

/// The optional TCP listener serves the same API; callers are audited by address.
#[test]
fn tcp_listener() {
    let mut node = TestNode::init("GB-NWCU").with_tcp();
    node.start();
    let addr =
        std::fs::read_to_string(node.dir.join("data").join("api.addr")).expect("api.addr written");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let url = format!("http://{addr}");
    let out = std::process::Command::new(wildnet_tests::bin("wildnet"))
        .args([
            "--node", &url, "--format", "json", "publish", "note", "--text", "over tcp",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = node.cli_json(&["audit", "list"]);
    assert!(
        entries
            .as_array()
            .expect("list")
            .iter()
            .any(|e| e["action"] == "publish"
                && e["actor"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("tcp:127.0.0.1:"))),
        "{entries}"
    );
}

/// SIGTERM stops the node cleanly: exit 0, socket removed.
#[test]
fn graceful_shutdown() {
    let mut node = TestNode::init("VN-EP");
    node.start();
    let status = node.stop();
    assert!(status.success(), "exit {status}:\n{}", node.log_text());
    assert!(!node.socket().exists(), "socket left behind");
    assert!(node.log_text().contains("stopped"), "{}", node.log_text());
}

/// Every private key file under `dir`, recursively.
fn key_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            key_files(&p, out);
        } else if std::fs::read_to_string(&p).is_ok_and(|t| t.contains("PRIVATE KEY-----")) {
            out.push(p);
        }
    }
}

/// Operators inspect and back up keys with stock tools: OpenSSL 3 reads
/// every key file that `wildnet init`, `wildnet keys rotate` and
/// `wildnet federation init` write (the Ed25519 key as PKCS#8 v1, which
/// OpenSSL 3.0 needs), and the node still loads them.
#[test]
fn stock_openssl_reads_every_key_file() {
    let mut node = TestNode::init("KE-KWS");
    node.cli_ok(&["keys", "rotate", "--dir", &node.dir.to_string_lossy()]);
    let fed = node.tmp.path().join("fed");
    node.cli_ok(&[
        "federation",
        "init",
        "--dir",
        &fed.to_string_lossy(),
        "--name",
        "test federation",
    ]);
    let mut keys = Vec::new();
    key_files(node.tmp.path(), &mut keys);
    // Signing and TLS keys, their retired pair, the CA key.
    assert_eq!(keys.len(), 5, "{keys:?}");
    let mut ed25519 = 0;
    for k in &keys {
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-noout", "-text", "-in"])
            .arg(k)
            .output()
            .expect("openssl is installed (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "openssl pkey cannot read {}: {}",
            k.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        ed25519 += usize::from(String::from_utf8_lossy(&out.stdout).contains("ED25519"));
    }
    assert_eq!(ed25519, 2, "the current and the retired signing key");
    node.start();
    node.cli_ok(&["publish", "note", "--text", "signed with the rotated key"]);
}

/// A stock client on the Unix socket: Python grpcio sends the
/// percent-encoded socket path as `:authority`, which the HTTP/2 layer
/// under tonic refuses (RST_STREAM); with `grpc.default_authority=localhost`,
/// as the README says, health and the Agency API answer. If the refusal
/// ever goes away upstream, this test says the README's advice is stale.
#[test]
fn grpcio_on_the_unix_socket_needs_a_default_authority() {
    let mut node = TestNode::init("KE-KWS");
    node.start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/unix_socket.py");
    let run = |extra: &[&str]| {
        std::process::Command::new("python3")
            .arg(script)
            .arg(node.socket())
            .args(extra)
            .output()
            .expect("run python3 (scripts/test.sh installs grpcio)")
    };
    let ok = run(&["--default-authority"]);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(text.contains("health=1 agency=KE-KWS"), "{text}");
    let plain = run(&[]);
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(
        !plain.status.success() && text.contains("RST_STREAM"),
        "grpcio without the option: {text}"
    );
}

/// Query pages report signatures as verified at ingest without redoing
/// the work; `query --verify` re-checks them, and a record whose stored
/// bytes changed on the disk is named with exit code 3.
#[test]
fn query_verify_rechecks_what_ingest_verified() {
    let mut node = TestNode::init("KE-KWS");
    node.start();
    node.cli_ok(&["publish", "note", "--text", "sound record"]);
    let page = node.cli_json(&["query"]);
    assert_eq!(page[0]["signature"], "verified at ingest", "{page}");
    let checked = node.cli_json(&["query", "--verify"]);
    assert_eq!(checked[0]["signature"], "valid", "{checked}");

    // A record whose signature bytes were damaged on the disk.
    node.stop();
    let key = {
        let pem = std::fs::read_to_string(node.dir.join("keys/signing.key.pem")).expect("key");
        <ed25519_dalek::SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&pem)
            .expect("pkcs8")
    };
    let body = wildnet_proto::v1::RecordBody {
        author: "KE-KWS".into(),
        created_at: 1_767_225_600_000,
        ..Default::default()
    };
    let mut signed = wildnet_node::record::Record::sign(body, &key)
        .signed()
        .clone();
    signed.signature[0] ^= 1;
    let bad = wildnet_node::record::Record::from_stored(signed).expect("decodes");
    let bad_id = bad.id().to_hex();
    {
        let store = wildnet_node::storage::Store::open(&node.dir.join("data/db"), "KE-KWS")
            .expect("open the stopped node's store");
        let rt = tokio::runtime::Runtime::new().expect("rt");
        rt.block_on(
            store.insert_unchecked(vec![wildnet_node::storage::InsertItem {
                record: bad,
                draft_key: None,
                from: String::new(),
            }]),
        )
        .expect("store the damaged record");
        store.close();
    }
    node.start();
    assert_eq!(node.cli(&["query"]).status.code(), Some(0));
    let out = node.cli(&["query", "--verify"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("1 record(s) fail signature verification"),
        "{err}"
    );
    assert!(err.contains(&bad_id), "{err}");
}
