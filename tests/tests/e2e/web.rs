//! The HTTP listener (`[http]`): `/metrics` read by the Prometheus
//! client's own OpenMetrics parser, with counters that move as records
//! sync; health and readiness; HTTPS with a login from the users file,
//! audited by user; and the refusal to start off loopback without them.

use std::process::{Command, Stdio};

use serde_json::Value;
use wildnet_node::config::NodeToml;
use wildnet_testbed::FedSpec;
use wildnet_testbed::drafts::{federation_wide, note_with};
use wildnet_tests::fed::federation_of;
use wildnet_tests::web::{get, get_tls, request, request_for, request_tls};
use wildnet_tests::{TestNode, bin};

/// The families of an exposition, as the Python parser read them.
fn parse_openmetrics(text: &str) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/python/openmetrics_families.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3 (scripts/test.sh installs prometheus_client)");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("parser");
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The value of `sample` whose labels include `labels`.
fn value(families: &Value, family: &str, sample: &str, labels: &[(&str, &str)]) -> Option<f64> {
    families[family]["samples"]
        .as_array()?
        .iter()
        .find_map(|s| {
            let l = &s[1];
            (s[0] == sample && labels.iter().all(|(k, v)| l[*k] == *v)).then(|| s[2].as_f64())?
        })
}

/// Every family the issue asks for, with its type.
const FAMILIES: [(&str, &str); 27] = [
    ("wildnet_records", "gauge"),
    ("wildnet_publishes", "counter"),
    ("wildnet_import_rows", "counter"),
    ("wildnet_query_duration_seconds", "histogram"),
    ("wildnet_writer_flush_duration_seconds", "histogram"),
    ("wildnet_writer_batch_ops", "histogram"),
    ("wildnet_peer_state", "gauge"),
    ("wildnet_peer_lag_records", "gauge"),
    ("wildnet_peer_received_records", "counter"),
    ("wildnet_peer_sent_records", "counter"),
    ("wildnet_peer_rejected_records", "counter"),
    ("wildnet_peer_rejected", "counter"),
    ("wildnet_peer_duplicate_records", "counter"),
    ("wildnet_peer_receipts_queued", "gauge"),
    ("wildnet_peer_completeness_records", "gauge"),
    ("wildnet_peer_completeness_verified_seconds", "gauge"),
    ("wildnet_peer_limited_calls", "counter"),
    ("wildnet_deconfliction_questions", "counter"),
    ("wildnet_limit_refusals", "counter"),
    ("wildnet_alerts_raised", "counter"),
    ("wildnet_tls_refusals", "counter"),
    ("wildnet_audit_entries", "counter"),
    ("wildnet_tombstones", "gauge"),
    ("wildnet_store_bytes", "gauge"),
    ("wildnet_manifest_version", "gauge"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_open_fds", "gauge"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_openmetrics_and_move_when_records_sync() {
    let fed = federation_of(FedSpec::new(&["KE-KWS", "ZA-DFFE"]).http(0)).await;
    fed.wait_peer_state("ZA-DFFE", &["KE-KWS"], "authenticated")
        .await
        .expect("links");
    let (ke, za) = (fed.node("KE-KWS"), fed.node("ZA-DFFE"));
    let za_http = za.http_addr().expect("ZA's http.addr");
    let ke_http = ke.http_addr().expect("KE's http.addr");

    let before = get(za_http, "/metrics", None).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert!(
        before
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text")),
        "{:?}",
        before.headers
    );
    let families = parse_openmetrics(&before.body);
    for (name, kind) in FAMILIES {
        assert_eq!(families[name]["type"], kind, "family {name} in {families}");
    }
    let received = |f: &Value| {
        value(
            f,
            "wildnet_peer_received_records",
            "wildnet_peer_received_records_total",
            &[("peer", "KE-KWS")],
        )
    };
    assert_eq!(received(&families), Some(0.0));
    assert_eq!(
        value(
            &families,
            "wildnet_peer_state",
            "wildnet_peer_state",
            &[("peer", "KE-KWS"), ("state", "authenticated")]
        ),
        Some(1.0)
    );

    // KE publishes three records; ZA pulls them: its counters move.
    let mut ke_api = ke.client().await.expect("KE");
    for i in 0..3 {
        ke_api
            .publish(note_with(&format!("note {i}"), &[], federation_wide()))
            .await
            .expect("publish");
    }
    let mut za_api = za.client().await.expect("ZA");
    za_api
        .sync(wildnet_proto::v1::SyncRequest {
            wait: true,
            ..Default::default()
        })
        .await
        .expect("sync");
    let after = parse_openmetrics(&get(za_http, "/metrics", None).await.body);
    assert_eq!(received(&after), Some(3.0), "{after}");
    assert_eq!(
        value(
            &after,
            "wildnet_peer_lag_records",
            "wildnet_peer_lag_records",
            &[("peer", "KE-KWS")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &after,
            "wildnet_records",
            "wildnet_records",
            &[("kind", "note")]
        ),
        Some(3.0)
    );
    // Plain HTTP at ZA's Federation port: refused at the handshake, counted.
    let za_fed = za.addr.expect("ZA's federation address");
    let mut tcp = tokio::net::TcpStream::connect(za_fed)
        .await
        .expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let _ = tcp.read_to_end(&mut Vec::new()).await;
    wildnet_testbed::wait::until(
        "ZA's TLS refusal counted",
        wildnet_testbed::wait::DEFAULT,
        || async {
            let m = parse_openmetrics(&get(za_http, "/metrics", None).await.body);
            let n = value(
                &m,
                "wildnet_tls_refusals",
                "wildnet_tls_refusals_total",
                &[("reason", "not-tls")],
            );
            Ok((n == Some(1.0)).then_some(()))
        },
    )
    .await
    .expect("counted by reason");
    let ke_metrics = parse_openmetrics(&get(ke_http, "/metrics", None).await.body);
    assert_eq!(
        value(
            &ke_metrics,
            "wildnet_publishes",
            "wildnet_publishes_total",
            &[("kind", "note")]
        ),
        Some(3.0)
    );
    // KE counts what it sent once each stream's batch is written.
    wildnet_testbed::wait::until(
        "KE's sent counter",
        wildnet_testbed::wait::DEFAULT,
        || async {
            let m = parse_openmetrics(&get(ke_http, "/metrics", None).await.body);
            let sent = value(
                &m,
                "wildnet_peer_sent_records",
                "wildnet_peer_sent_records_total",
                &[("peer", "ZA-DFFE")],
            );
            Ok(sent.is_some_and(|v| v >= 3.0).then_some(()))
        },
    )
    .await
    .expect("KE counts the records it sent");
    assert!(
        value(
            &ke_metrics,
            "wildnet_writer_flush_duration_seconds",
            "wildnet_writer_flush_duration_seconds_count",
            &[]
        )
        .is_some_and(|v| v >= 3.0)
    );

    // Health and readiness; the listener is read-only.
    assert_eq!(get(ke_http, "/healthz", None).await.status, 200);
    let ready = get(ke_http, "/readyz", None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert!(ready.body.contains("manifest: version"), "{}", ready.body);
    assert_eq!(request(ke_http, "POST", "/metrics", None).await.status, 405);
    assert_eq!(get(ke_http, "/no/such/page", None).await.status, 404);
    assert_eq!(get(ke_http, "/audit?before=0", None).await.status, 200);
    // Without a login, only loopback names: a page whose own name was
    // rebound to 127.0.0.1 (DNS rebinding) gets nothing.
    let rebound = request_for(ke_http, "rebound.example:8480", "GET", "/records", None).await;
    assert_eq!(rebound.status, 421, "{}", rebound.body);
    let port = ke_http.port();
    let named = request_for(
        ke_http,
        &format!("localhost:{port}"),
        "GET",
        "/records",
        None,
    )
    .await;
    assert_eq!(named.status, 200);
    fed.stop().await.expect("stop");
}

/// A CA and a certificate for 127.0.0.1 signed by it, as PEM:
/// `(ca, cert, key)`.
fn https_files() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::default();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "agency web CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("sign");
    (ca_cert.pem(), leaf.pem(), key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_asks_for_a_login_and_audits_page_views_by_user() {
    let mut fed = federation_of(FedSpec::new(&["KE-KWS", "ZA-DFFE"])).await;
    let dir = fed.node("KE-KWS").dir.clone();
    let (ca, cert, key) = https_files();
    std::fs::create_dir_all(dir.join("http")).expect("mkdir");
    std::fs::write(dir.join("http/cert.pem"), cert).expect("cert");
    std::fs::write(dir.join("http/key.pem"), key).expect("key");
    // The operator adds a user with the CLI; the password comes on stdin.
    let mut add = Command::new(bin("wildnet"))
        .arg("--node")
        .arg(&dir)
        .args(["admin", "http-user", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wildnet admin http-user");
    use std::io::Write;
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"correct horse battery\n")
        .expect("password");
    let out = add.wait_with_output().expect("http-user");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("alice can log in") && said.contains("[http] users"),
        "{said}"
    );
    fed.restart_with("KE-KWS", |d| {
        let mut cfg = NodeToml::open(&d.join("node.toml")).expect("node.toml");
        for (key, text) in [
            ("listen", "127.0.0.1:0"),
            ("tls_cert", "http/cert.pem"),
            ("tls_key", "http/key.pem"),
            ("users", "http/users.toml"),
        ] {
            cfg.set_http(key, text);
        }
        cfg.save().expect("save");
    })
    .await
    .expect("restart with HTTPS");
    let addr = fed.node("KE-KWS").http_addr().expect("http.addr");
    let https = |login| get_tls(addr, "/records", login, &ca, "127.0.0.1");

    let anonymous = https(None).await.expect("https");
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Basic realm=\"wildnet KE-KWS\"")),
        "{:?}",
        anonymous.headers
    );
    let wrong = https(Some(("alice", "not her password")))
        .await
        .expect("https");
    assert_eq!(wrong.status, 401);
    // A HEAD request shows nothing: not audited (it comes first, so its
    // entry would be in the log before the GET's).
    let login = Some(("alice", "correct horse battery"));
    let head = request_tls(addr, ("HEAD", "/records"), login, &ca, "127.0.0.1")
        .await
        .expect("https");
    assert_eq!(head.status, 200);
    let page = https(login).await.expect("https");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Records</h1>"), "{}", page.body);
    // Plain HTTP on the HTTPS port gets no page.
    let plain = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::task::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let _ = s
                .write_all(b"GET /records HTTP/1.1\r\nHost: x\r\n\r\n")
                .await;
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf).await;
            buf
        }),
    )
    .await
    .expect("answered")
    .expect("task");
    assert!(
        !String::from_utf8_lossy(&plain).contains("<h1>"),
        "served over plain HTTP"
    );

    // One page with records was shown, to alice.
    let ke = fed.node("KE-KWS");
    let views = wildnet_testbed::wait::until(
        "the page view audited",
        wildnet_testbed::wait::DEFAULT,
        || async {
            let audit = ke.audit().await?;
            let views: Vec<_> = audit
                .into_iter()
                .filter(|e| e.action == "web-view")
                .collect();
            Ok((!views.is_empty()).then_some(views))
        },
    )
    .await
    .expect("audited");
    assert_eq!(views.len(), 1, "{views:?}");
    assert!(
        views[0].actor.starts_with("web:alice@127.0.0.1:"),
        "{views:?}"
    );
    fed.stop().await.expect("stop");
}

#[test]
fn a_node_refuses_to_start_off_loopback_without_https_and_a_login() {
    let node = TestNode::init("KE-KWS");
    let cfg = node.config();
    // Written as text: `NodeToml` refuses to save a config the node
    // would refuse.
    let text = std::fs::read_to_string(&cfg).expect("node.toml");
    let mut doc: toml_edit::DocumentMut = text.parse().expect("TOML");
    doc["http"]["listen"] = toml_edit::value("0.0.0.0:0");
    std::fs::write(&cfg, doc.to_string()).expect("write");
    let out = Command::new(bin("wildnet-node"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run wildnet-node");
    assert!(!out.status.success(), "it started");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[http] listen = 0.0.0.0:0 is not a loopback address")
            && err.contains("tls_cert")
            && err.contains("users"),
        "{err}"
    );
    assert!(
        !node.dir.join("data").join("http.addr").exists(),
        "nothing was bound"
    );
}
