//! Federation trust: mutual TLS between real nodes on loopback, the
//! refusal of every bad certificate with its reason, manifest gossip, and
//! revocation taking effect on running nodes.

use std::path::Path;

use prost::Message;
use wildnet_proto::v1 as pb;
use wildnet_tests::fed::{
    federation, foreign_cert, hello_with, issue_cert, mtls_channel, refusal_with, tls_cert, tls_key,
};

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Three nodes authenticate each other over mutual TLS; each lists the
/// others as authenticated peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_authenticate_each_other() {
    let fed = federation(
        &["KE-KWS", "ZA-DFFE", "GB-NWCU"],
        &[("SADC", &["KE-KWS", "ZA-DFFE"])],
        None,
    )
    .await;
    fed.wait_peer_state("KE-KWS", &["ZA-DFFE", "GB-NWCU"], "authenticated")
        .await
        .expect("wait");
    fed.wait_peer_state("ZA-DFFE", &["KE-KWS", "GB-NWCU"], "authenticated")
        .await
        .expect("wait");
    fed.wait_peer_state("GB-NWCU", &["KE-KWS", "ZA-DFFE"], "authenticated")
        .await
        .expect("wait");
    let p = fed.node("KE-KWS").peers().await.expect("peers");
    assert_eq!(p.manifest_version, 5, "version 1 + 3 admissions + 1 group");
    assert!(
        p.peers
            .iter()
            .all(|s| s.last_success > 0 && s.manifest_version == 5),
        "{:?}",
        p.peers
    );
    fed.stop().await.expect("stop");
}

/// Every bad certificate is refused at the handshake, with its reason
/// audited; the valid one is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_matrix() {
    let fed = federation(&["KE-KWS", "ZA-DFFE", "GB-NWCU"], &[], None).await;
    let ke = fed.node("KE-KWS");
    let za_dir = fed.node("ZA-DFFE").dir.clone();
    let za_key = tls_key(&za_dir);

    // The valid certificate works.
    let ok = hello_with(
        &fed.fed_dir,
        ke.addr.expect("federated"),
        Some((tls_cert(&za_dir), &za_key)),
    )
    .await
    .expect("valid cert refused");
    assert_eq!(ok.agency, "KE-KWS");

    let other_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let day = 86_400_000;
    type Case<'a> = (&'a str, Option<(Vec<u8>, &'a rcgen::KeyPair)>, &'a str);
    let cases: Vec<Case> = vec![
        ("no client certificate", None, "no certificates"),
        (
            "another CA",
            Some((foreign_cert("ZA-DFFE", &za_key), &za_key)),
            "UnknownIssuer",
        ),
        (
            "expired",
            Some((
                issue_cert(
                    &fed.fed_dir,
                    "ZA-DFFE",
                    &za_key,
                    now() - 10 * day,
                    now() - day,
                ),
                &za_key,
            )),
            "expired",
        ),
        (
            "not yet valid",
            Some((
                issue_cert(
                    &fed.fed_dir,
                    "ZA-DFFE",
                    &za_key,
                    now() + day,
                    now() + 10 * day,
                ),
                &za_key,
            )),
            "not valid yet",
        ),
        (
            "agency not in the manifest",
            Some((
                issue_cert(&fed.fed_dir, "TH-DNP", &other_key, now() - day, now() + day),
                &other_key,
            )),
            "not in manifest",
        ),
        (
            "key differs from the manifest's",
            Some((
                issue_cert(
                    &fed.fed_dir,
                    "ZA-DFFE",
                    &other_key,
                    now() - day,
                    now() + day,
                ),
                &other_key,
            )),
            "is not the one manifest",
        ),
    ];
    for (what, cert, reason) in cases {
        let before = ke.audit().await.expect("audit").len();
        let r = hello_with(&fed.fed_dir, ke.addr.expect("federated"), cert).await;
        assert!(r.is_err(), "{what}: accepted");
        let detail = refusal_with(&fed, "KE-KWS", before, reason).await;
        assert!(!detail.is_empty(), "{what}");
    }

    // Revocation on a running node: revoke GB-NWCU, install at KE only.
    let gb_dir = fed.node("GB-NWCU").dir.clone();
    let gb_key = tls_key(&gb_dir);
    hello_with(
        &fed.fed_dir,
        ke.addr.expect("federated"),
        Some((tls_cert(&gb_dir), &gb_key)),
    )
    .await
    .expect("GB valid before");
    let mut s = fed.secretariat().expect("secretariat");
    s.revoke("GB-NWCU", None, now()).expect("revoke");
    let r = ke
        .client()
        .await
        .expect("client")
        .install_manifest(s.manifest().manifest().clone())
        .await
        .expect("install")
        .into_inner();
    assert!(r.adopted, "{r:?}");
    let before = ke.audit().await.expect("audit").len();
    assert!(
        hello_with(
            &fed.fed_dir,
            ke.addr.expect("federated"),
            Some((tls_cert(&gb_dir), &gb_key))
        )
        .await
        .is_err(),
        "revoked agency accepted"
    );
    refusal_with(&fed, "KE-KWS", before, "revoked").await;
    fed.wait_peer_state("KE-KWS", &["GB-NWCU"], "dropped")
        .await
        .expect("wait");
    let p = ke.peers().await.expect("peers");
    let gb = p
        .peers
        .iter()
        .find(|s| s.agency == "GB-NWCU")
        .expect("GB listed");
    assert!(gb.last_error.contains("revoked"), "{gb:?}");

    // A dialler requires the certificate to name the agency it meant.
    let za_settings =
        wildnet_node::config::Settings::load(&za_dir.join("node.toml")).expect("settings");
    let za_fed = wildnet_node::federation::Federation::load(
        "ZA-DFFE",
        za_settings.federation.as_ref().expect("federated"),
        &za_settings.tls_key,
        None,
    )
    .expect("load");
    let e = wildnet_node::sync::dial::dial(
        &za_fed,
        "ZA-DFFE",
        &ke.addr.expect("federated").to_string(),
    )
    .await;
    let e = match e {
        Ok(mut c) => c
            .hello(pb::HelloRequest::default())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    }
    .expect_err("a node answering under another agency's name was accepted");
    assert!(e.contains("was dialled") || e.contains("KE-KWS"), "{e}");
    fed.stop().await.expect("stop");
}

/// A new manifest installed at one node reaches all three; forged, older
/// and conflicting manifests are refused with their reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_gossip_and_forgeries() {
    let fed = federation(&["KE-KWS", "ZA-DFFE", "GB-NWCU"], &[], None).await;
    fed.wait_peer_state("KE-KWS", &["ZA-DFFE", "GB-NWCU"], "authenticated")
        .await
        .expect("wait");
    let old = fed
        .secretariat()
        .expect("secretariat")
        .manifest()
        .manifest()
        .clone();
    let mut s = fed.secretariat().expect("secretariat");
    s.group_set("SADC", &["KE-KWS".into(), "ZA-DFFE".into()])
        .expect("group");
    let v = s.manifest().version();
    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    let r = ke
        .install_manifest(s.manifest().manifest().clone())
        .await
        .expect("install")
        .into_inner();
    assert!(r.adopted && r.version == v, "{r:?}");
    fed.wait_manifest(&["KE-KWS", "ZA-DFFE", "GB-NWCU"], v)
        .await
        .expect("wait");

    let gb = fed.node("GB-NWCU");
    let mut c = gb.client().await.expect("client");
    // Edited bytes.
    let mut forged = s.manifest().manifest().clone();
    let last = forged.body.len() - 1;
    forged.body[last] ^= 1;
    let r = c.install_manifest(forged).await.expect("call").into_inner();
    assert!(!r.adopted && r.reason.contains("does not verify"), "{r:?}");
    // Signed by another key.
    let rogue = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut body = s.manifest().body().clone();
    body.version += 1;
    let r = c
        .install_manifest(
            wildnet_node::membership::manifest::sign(&body, &rogue.serialize_der()).expect("sign"),
        )
        .await
        .expect("call")
        .into_inner();
    assert!(!r.adopted && r.reason.contains("does not verify"), "{r:?}");
    // Lower version.
    let r = c.install_manifest(old).await.expect("call").into_inner();
    assert!(!r.adopted && r.reason.contains("not newer"), "{r:?}");
    // Same version, other content, properly signed by the CA.
    let ca_key = std::fs::read_to_string(fed.fed_dir.join("ca.key.pem")).expect("ca key");
    let ca_key = rcgen::KeyPair::from_pem(&ca_key).expect("ca key");
    let mut body = s.manifest().body().clone();
    body.federation = "a different federation".into();
    let same =
        wildnet_node::membership::manifest::sign(&body, &ca_key.serialize_der()).expect("sign");
    let r = c.install_manifest(same).await.expect("call").into_inner();
    assert!(!r.adopted && r.reason.contains("differs"), "{r:?}");
    assert_eq!(
        gb.peers().await.expect("peers").manifest_version,
        v,
        "a refused manifest replaced the good one"
    );
    // Refusals are audited without waiting for a flush: poll for all four.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let audit = gb.audit().await.expect("audit");
        let n = audit
            .iter()
            .filter(|e| e.action == "manifest-refused")
            .count();
        if n >= 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {n} manifest refusals audited: {audit:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // A restarted node keeps the adopted manifest (persisted).
    let adopted =
        pb::Manifest::decode(s.manifest().manifest().encode_to_vec().as_slice()).expect("m");
    assert_eq!(
        c.get_manifest(pb::GetManifestRequest {})
            .await
            .expect("get")
            .into_inner(),
        adopted
    );
    fed.stop().await.expect("stop");
}

/// A stock gRPC client built on BoringSSL (Python grpcio) completes a
/// mutual-TLS call with a valid agency certificate, and is refused
/// without one or with a foreign CA's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_grpcio_interoperates() {
    let fed = federation(&["KE-KWS", "ZA-DFFE"], &[], None).await;
    let addr = fed.node("KE-KWS").addr.expect("federated").to_string();
    let ca = fed.fed_dir.join("ca.cert.pem");
    let za = fed.node("ZA-DFFE").dir.clone();
    // A certificate for ZA-DFFE's own key from a foreign CA.
    let rogue = fed.root.join("rogue.cert.pem");
    wildnet_tests::fed::write_cert_pem(&rogue, &foreign_cert("ZA-DFFE", &tls_key(&za)));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/hello.py");
    let run = move |cert: Option<&Path>| {
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(script).arg(&addr).arg(&ca);
        if let Some(cert) = cert {
            cmd.arg(cert).arg(za.join("keys/tls.key.pem"));
        }
        cmd.output()
            .expect("run python3 (scripts/test.sh installs grpcio)")
    };
    let good_cert = fed.node("ZA-DFFE").dir.join("federation/tls.cert.pem");
    let (good, none, foreign) =
        tokio::task::spawn_blocking(move || (run(Some(&good_cert)), run(None), run(Some(&rogue))))
            .await
            .expect("python");
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "grpcio call failed: {}{}",
        stdout,
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(stdout.contains("agency=KE-KWS"), "{stdout}");
    assert!(
        !none.status.success(),
        "grpcio without a client certificate was served"
    );
    assert!(
        !foreign.status.success(),
        "grpcio with a foreign CA's certificate was served"
    );
    // Both refusals are audited with their reasons (the audit is written
    // just after the handshake fails, so poll for it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let audit = fed.node("KE-KWS").audit().await.expect("audit");
        let refused: Vec<&str> = audit
            .iter()
            .filter(|e| e.action == "tls-refused")
            .map(|e| e.detail.as_str())
            .collect();
        if refused.iter().any(|d| d.contains("no certificates"))
            && refused.iter().any(|d| d.contains("UnknownIssuer"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "refusals not audited: {refused:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    fed.stop().await.expect("stop");
}

/// Each listener serves its own service only: the Agency API is not
/// reachable on the Federation port, even with a valid peer certificate,
/// and the Federation service is not on the Agency socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_listener_serves_only_its_own_service() {
    let fed = federation(&["KE-KWS", "ZA-DFFE"], &[], None).await;
    let ke = fed.node("KE-KWS");
    let za_dir = fed.node("ZA-DFFE").dir.clone();
    let za_key = tls_key(&za_dir);
    let peer = mtls_channel(
        &fed.fed_dir,
        ke.addr.expect("federated"),
        Some((tls_cert(&za_dir), &za_key)),
    )
    .await
    .expect("a peer's channel");
    // The channel is a peer's: the Federation service answers on it.
    let mut f = pb::federation_client::FederationClient::new(peer.clone());
    f.hello(pb::HelloRequest {
        manifest_version: 1,
    })
    .await
    .expect("hello");
    // The Agency service does not.
    let mut a = pb::agency_client::AgencyClient::new(peer);
    let e = a
        .stats(pb::StatsRequest::default())
        .await
        .expect_err("the Agency API answered on the Federation port");
    assert_eq!(e.code(), tonic::Code::Unimplemented, "{e}");
    let e = a
        .publish(wildnet_testbed::drafts::note("x", "y", None))
        .await
        .expect_err("a peer published through the Federation port");
    assert_eq!(e.code(), tonic::Code::Unimplemented, "{e}");
    // And the Federation service is not on the Agency socket.
    let local = wildnet_node::client::Target::Unix(ke.socket())
        .channel()
        .await
        .expect("socket");
    let mut f = pb::federation_client::FederationClient::new(local);
    let e = f
        .hello(pb::HelloRequest {
            manifest_version: 1,
        })
        .await
        .expect_err("the Federation service answered on the Agency socket");
    assert_eq!(e.code(), tonic::Code::Unimplemented, "{e}");
    fed.stop().await.expect("stop");
}
