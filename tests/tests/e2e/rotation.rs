//! Key rotation on running nodes: a rotated agency's new certificate and
//! key are accepted, the old ones refused, and a record signed with the
//! retired key after the rotation is refused as revoked.

use wildnet_proto::v1 as pb;
use wildnet_tests::fed::{federation, hello_with, refusal_with, tls_cert, tls_key};

/// Key rotation: ZA-DFFE retires its keys; after admission with --rotate,
/// join and a restart, peers accept its new certificate and refuse the
/// old one, and its node signs with the new key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation() {
    let mut fed = federation(&["KE-KWS", "ZA-DFFE"], &[], None).await;
    fed.wait_peer_state("KE-KWS", &["ZA-DFFE"], "authenticated")
        .await
        .expect("wait");
    let za_dir = fed.node("ZA-DFFE").dir.clone();
    let za_addr = fed.node("ZA-DFFE").addr.expect("federated");
    let (old_cert, old_key) = (tls_cert(&za_dir), tls_key(&za_dir));
    let old_signing = fed
        .node("ZA-DFFE")
        .client()
        .await
        .expect("client")
        .info(pb::InfoRequest {})
        .await
        .expect("info")
        .into_inner()
        .signing_public_key;
    let idx = fed
        .nodes
        .iter()
        .position(|n| n.agency == "ZA-DFFE")
        .expect("za");
    fed.nodes[idx].stop().await.expect("stop");
    let retired = {
        let s = wildnet_node::config::Settings::load(&za_dir.join("node.toml")).expect("settings");
        wildnet_node::identity::load_signing_key(&s.signing_key).expect("the old key")
    };

    wildnet_node::identity::rotate(&za_dir).expect("rotate");
    let mut s = fed.secretariat().expect("secretariat");
    let req = std::fs::read(za_dir.join("admission-request.pb")).expect("request");
    s.admit(&req, &za_addr.to_string(), "", true, 30)
        .expect("admit --rotate");
    let fed_dir = fed.fed_dir.clone();
    wildnet_node::join::join(
        &za_dir,
        &fed_dir.join("issued/za-dffe.cert.pem"),
        &fed_dir.join("ca.cert.pem"),
        &fed_dir.join("manifest.pb"),
        Some(&za_addr.to_string()),
    )
    .expect("join");
    let ke = fed.node("KE-KWS");
    let r = ke
        .client()
        .await
        .expect("client")
        .install_manifest(s.manifest().manifest().clone())
        .await
        .expect("install")
        .into_inner();
    assert!(r.adopted, "{r:?}");

    // The restarted node links up with its new certificate…
    fed.nodes[idx]
        .start_in_process(None)
        .await
        .expect("start again");
    fed.wait_peer_state("ZA-DFFE", &["KE-KWS"], "authenticated")
        .await
        .expect("wait");
    let ke = fed.node("KE-KWS");
    hello_with(
        &fed.fed_dir,
        ke.addr.expect("federated"),
        Some((tls_cert(&za_dir), &tls_key(&za_dir))),
    )
    .await
    .expect("new cert accepted");
    // …the old one is refused…
    let before = ke.audit().await.expect("audit").len();
    assert!(
        hello_with(
            &fed.fed_dir,
            ke.addr.expect("federated"),
            Some((old_cert, &old_key))
        )
        .await
        .is_err(),
        "old cert accepted"
    );
    refusal_with(&fed, "KE-KWS", before, "revoked").await;
    // …and records are signed with the new key.
    let za = fed.node("ZA-DFFE");
    let info = za
        .client()
        .await
        .expect("client")
        .info(pb::InfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_ne!(info.signing_public_key, old_signing);
    let p = za
        .client()
        .await
        .expect("client")
        .publish(pb::PublishRequest {
            draft: Some(pb::RecordBody {
                payload: Some(pb::record_body::Payload::Note(pb::Note {
                    title: String::new(),
                    text: "after rotation".into(),
                    ..Default::default()
                })),
                ..Default::default()
            }),
        })
        .await
        .expect("publish with the new key")
        .into_inner();
    let g = za
        .client()
        .await
        .expect("client")
        .get(pb::GetRequest { id: p.id })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(
        hex_of(
            &g.record
                .expect("record")
                .signed
                .expect("signed")
                .signer_public_key
        ),
        info.signing_public_key
    );
    // …and a record signed with the retired key after the rotation, as a
    // thief of that key would send it, is refused with the reason.
    let rogue = wildnet_tests::rogue::RoguePeer::replace(&mut fed, "ZA-DFFE").await;
    let replay = wildnet_node::record::Record::sign(
        wildnet_testbed::drafts::signed_note_body("ZA-DFFE", 1, pb::Scope::Federation),
        &retired,
    );
    let id = replay.id().to_hex();
    rogue.serve([replay.signed().clone()]);
    crate::sync::wait_until("KE to refuse the retired key's record", || async {
        let p = fed.node("KE-KWS").peers().await.expect("peers");
        p.peers
            .iter()
            .any(|p| p.agency == "ZA-DFFE" && p.last_rejection.starts_with(&id))
    })
    .await;
    let p = fed.node("KE-KWS").peers().await.expect("peers");
    let za_state = p.peers.iter().find(|p| p.agency == "ZA-DFFE").expect("ZA");
    assert!(za_state.last_rejection.contains("revoked"), "{za_state:?}");
    assert!(za_state.rejected >= 1);
    drop(rogue);
    fed.stop().await.expect("stop");
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
