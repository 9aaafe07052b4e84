//! Limits under a flood: a peer over its allowance of streams is refused
//! with RESOURCE_EXHAUSTED naming the setting, counted and named in
//! `peers`, while another peer syncs as usual; the Agency API refuses
//! requests beyond `[limits] api_requests` the same way.

use std::path::Path;

use wildnet_proto::v1 as pb;
use wildnet_tests::TestNode;
use wildnet_tests::fed::{federation, mtls_channel};

pub(crate) fn set_limit(dir: &Path, name: &str, value: u64) {
    let path = dir.join("node.toml");
    let text = std::fs::read_to_string(&path).expect("node.toml");
    let mut doc: toml_edit::DocumentMut = text.parse().expect("toml");
    doc["limits"][name] = toml_edit::value(value as i64);
    std::fs::write(&path, doc.to_string()).expect("write node.toml");
}

fn tls_key(dir: &Path) -> rcgen::KeyPair {
    rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.join("keys/tls.key.pem")).expect("key"))
        .expect("key")
}

/// Opens Pull streams until one is refused: the open ones and the refusal.
async fn flood(
    ch: &tonic::transport::Channel,
) -> (Vec<tonic::Streaming<pb::PullItem>>, tonic::Status) {
    let mut held = Vec::new();
    loop {
        let mut c = pb::federation_client::FederationClient::new(ch.clone());
        let req = pb::PullRequest {
            since: 0,
            follow: true,
            ..Default::default()
        };
        match c.pull(req).await {
            Ok(stream) => held.push(stream.into_inner()),
            Err(e) => return (held, e),
        }
        assert!(
            held.len() <= 2,
            "a third stream was opened over peer_streams = 2"
        );
    }
}

/// ZA opens Pull streams to KE until KE refuses one; GB keeps syncing
/// with KE meanwhile, and KE names the refusals in its peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_refused_while_another_syncs() {
    let mut fed = federation(&["KE-KWS", "ZA-DFFE", "GB-NWCU"], &[], None).await;
    fed.restart_with("KE-KWS", |dir| set_limit(dir, "peer_streams", 2))
        .await
        .expect("restart KE with peer_streams = 2");
    fed.wait_peer_state("KE-KWS", &["ZA-DFFE", "GB-NWCU"], "authenticated")
        .await
        .expect("links");
    // ZA's own node is stopped: its streams go, and the flood below holds
    // every place of ZA's allowance.
    let za_dir = fed.node("ZA-DFFE").dir.clone();
    fed.node_mut("ZA-DFFE")
        .stop()
        .await
        .expect("stop ZA's node");
    let key = tls_key(&za_dir);
    let cert = wildnet_node::secretariat::read_cert_pem(&za_dir.join("federation/tls.cert.pem"))
        .expect("cert");
    let ch = mtls_channel(
        &fed.fed_dir,
        fed.node("KE-KWS").addr.expect("addr"),
        Some((cert, &key)),
    )
    .await
    .expect("ZA's channel");
    // Until KE has seen the stopped node's streams close, fewer places are
    // free: open streams until refused, again, until exactly two open.
    let (held, refusal) = wildnet_testbed::wait::until(
        "ZA to hold exactly its two streams",
        wildnet_testbed::wait::DEFAULT,
        || {
            let ch = ch.clone();
            async move {
                let (held, refusal) = flood(&ch).await;
                Ok((held.len() == 2).then_some((held, refusal)))
            }
        },
    )
    .await
    .expect("the allowance frees up");
    assert_eq!(refusal.code(), tonic::Code::ResourceExhausted, "{refusal}");
    assert!(
        refusal.message().contains("[limits] peer_streams = 2"),
        "the refusal names the setting: {refusal}"
    );
    // GB is not held up: a record KE publishes now reaches it.
    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    let draft = wildnet_testbed::drafts::note_with(
        "during the flood",
        &[],
        wildnet_testbed::drafts::federation_wide(),
    );
    let id = ke.publish(draft).await.expect("publish").into_inner().id;
    crate::sync::wait_until("GB to hold KE's record during the flood", || async {
        let mut gb = fed.node("GB-NWCU").client().await.expect("client");
        gb.get(pb::GetRequest { id: id.clone() }).await.is_ok()
    })
    .await;
    let peers = ke
        .peers(pb::PeersRequest {})
        .await
        .expect("peers")
        .into_inner();
    let za = peers
        .peers
        .iter()
        .find(|p| p.agency == "ZA-DFFE")
        .expect("ZA");
    assert!(za.limited >= 1, "the refusal is counted: {za:?}");
    assert!(za.last_limit.contains("peer_streams"), "{za:?}");
    let gb = peers
        .peers
        .iter()
        .find(|p| p.agency == "GB-NWCU")
        .expect("GB");
    assert_eq!(gb.limited, 0, "GB was never refused: {gb:?}");
    // Streams given back are places free again.
    drop(held);
    crate::sync::wait_until("ZA to open a stream again", || async {
        let mut c = pb::federation_client::FederationClient::new(ch.clone());
        let r = c
            .pull(pb::PullRequest {
                since: 0,
                follow: false,
                ..Default::default()
            })
            .await;
        r.is_ok()
    })
    .await;
    fed.stop().await.expect("stop");
}

/// With `api_requests = 1`, an import in progress holds the only place:
/// another request is refused, naming the setting, and served once the
/// import ends. (Whichever of the two reaches the node second is the one
/// refused.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agency_api_refuses_requests_over_its_limit() {
    let mut node = TestNode::init("KE-KWS");
    set_limit(&node.dir, "api_requests", 1);
    node.start();
    let mut importer = node.client().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::ImportItem>(1);
    let import = tokio::spawn(async move {
        importer
            .import(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    let mut other = node.client().await;
    let refusal = wildnet_testbed::wait::until(
        "a request refused during the import",
        wildnet_testbed::wait::DEFAULT,
        || {
            let mut c = other.clone();
            let import_refused = import.is_finished();
            async move {
                if import_refused {
                    return Ok(Some(None));
                }
                Ok(c.stats(pb::StatsRequest::default()).await.err().map(Some))
            }
        },
    )
    .await
    .expect("a refusal");
    drop(tx);
    let imported = import.await.expect("task");
    let refusal = match refusal {
        Some(stats_refused) => {
            let summary = imported.expect("the import was served").into_inner();
            assert_eq!(summary.accepted, 0);
            stats_refused
        }
        None => imported.expect_err("the import ended early: refused"),
    };
    assert_eq!(refusal.code(), tonic::Code::ResourceExhausted, "{refusal}");
    assert!(
        refusal.message().contains("[limits] api_requests = 1"),
        "{refusal}"
    );
    other
        .stats(pb::StatsRequest::default())
        .await
        .expect("served once the import ended");
}
