//! An admitted peer turned hostile, through its own real certificate and
//! keys: it gets no record outside its audience by Pull, Fetch or
//! Reconcile (the deconfliction follow-up: `deconfliction::`, operation
//! records: `operations::`), a receipt for a
//! record it never could have received is refused, audited, counted and
//! named in `peers`; a record dated beyond the clock allowance is refused
//! with the reason, and arrives once the clocks agree.

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use wildnet_node::membership::reconcile::Initiator;
use wildnet_node::record::{Record, RecordId};
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::federation_client::FederationClient;
use wildnet_testbed::drafts;
use wildnet_tests::fed::{Federation, federation, mtls_channel};
use wildnet_tests::rogue::RoguePeer;

type Client = wildnet_proto::v1::agency_client::AgencyClient<tonic::transport::Channel>;

/// ZA's channel to KE's Federation port, with ZA's real certificate.
async fn as_za(fed: &Federation) -> FederationClient<tonic::transport::Channel> {
    let dir = fed.node("ZA-DFFE").dir.clone();
    let key = rcgen::KeyPair::from_pem(
        &std::fs::read_to_string(dir.join("keys/tls.key.pem")).expect("key"),
    )
    .expect("key");
    let cert = wildnet_node::secretariat::read_cert_pem(&dir.join("federation/tls.cert.pem"))
        .expect("cert");
    let addr = fed.node("KE-KWS").addr.expect("KE federated");
    FederationClient::new(
        mtls_channel(&fed.fed_dir, addr, Some((cert, &key)))
            .await
            .expect("channel"),
    )
}

fn signing_key(dir: &Path) -> SigningKey {
    let s = wildnet_node::config::Settings::load(&dir.join("node.toml")).expect("settings");
    wildnet_node::identity::load_signing_key(&s.signing_key).expect("key")
}

async fn publish(c: &Client, text: &str, selector: &str, h: pb::Handling) -> String {
    let d = drafts::note_with(text, &[selector], h);
    c.clone().publish(d).await.expect("publish").into_inner().id
}

fn handling(scope: pb::Scope, agencies: &[&str]) -> pb::Handling {
    pb::Handling {
        tlp: pb::Tlp::Amber as i32,
        scope: scope as i32,
        agencies: agencies.iter().map(|a| a.to_string()).collect(),
        code: pb::HandlingCode::H0 as i32,
        ..Default::default()
    }
}

/// The ids a reconciliation from an empty set tells the caller it lacks.
async fn reconciled(za: &mut FederationClient<tonic::transport::Channel>) -> Vec<String> {
    let mut init = Initiator::new(Vec::new());
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(init.first()).await.expect("send");
    let mut answers = za
        .reconcile(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("reconcile")
        .into_inner();
    while let Some(resp) = answers.message().await.expect("answer") {
        match init.step(&resp).expect("step") {
            Some(next) => tx.send(next).await.expect("send"),
            None => break,
        }
    }
    init.missing.iter().map(hex::encode).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_peer_gets_nothing_outside_its_audience_by_pull_fetch_or_reconcile() {
    let fed = federation(&["KE-KWS", "ZA-DFFE", "GB-NWCU"], &[], None).await;
    let ke = fed.node("KE-KWS").client().await.expect("client");
    let shared = publish(
        &ke,
        "shared",
        "phone:+254711000001",
        handling(pb::Scope::Federation, &[]),
    )
    .await;
    let local = publish(
        &ke,
        "local",
        "phone:+254711000002",
        handling(pb::Scope::Local, &[]),
    )
    .await;
    let gb_only = publish(
        &ke,
        "for GB",
        "phone:+254711000003",
        handling(pb::Scope::Agencies, &["GB-NWCU"]),
    )
    .await;
    let mut za = as_za(&fed).await;

    let mut pulled = Vec::new();
    let mut s = za
        .pull(pb::PullRequest {
            since: 0,
            follow: false,
            ..Default::default()
        })
        .await
        .expect("pull")
        .into_inner();
    while let Some(item) = s.message().await.expect("item") {
        if let Some(r) = item.record {
            pulled.push(RecordId::of_body(&r.body).to_hex());
        }
    }
    assert!(pulled.contains(&shared), "the shared record is pulled");
    let ids = |v: &[&String]| v.iter().map(|id| hex::decode(id).expect("hex")).collect();
    let fetched = za
        .fetch(pb::FetchRequest {
            ids: ids(&[&shared, &local, &gb_only]),
        })
        .await
        .expect("fetch")
        .into_inner()
        .records;
    let fetched: Vec<String> = fetched
        .iter()
        .map(|r| RecordId::of_body(&r.body).to_hex())
        .collect();
    assert_eq!(
        fetched,
        vec![shared.clone()],
        "Fetch serves only the shared record"
    );
    let lacking = reconciled(&mut za).await;
    assert!(
        lacking.contains(&shared),
        "reconciliation names the shared record"
    );
    for (what, got) in [("Pull", &pulled), ("Reconcile", &lacking)] {
        for id in [&local, &gb_only] {
            assert!(
                !got.contains(id),
                "{what} let ZA see {id}, outside its audience"
            );
        }
    }
    fed.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_for_a_record_the_peer_never_received_is_refused() {
    let fed = federation(&["KE-KWS", "ZA-DFFE"], &[], None).await;
    let ke = fed.node("KE-KWS").client().await.expect("client");
    let shared = publish(
        &ke,
        "shared",
        "phone:+254711000011",
        handling(pb::Scope::Federation, &[]),
    )
    .await;
    let local = publish(
        &ke,
        "local",
        "phone:+254711000012",
        handling(pb::Scope::Local, &[]),
    )
    .await;
    let za_key = signing_key(&fed.node("ZA-DFFE").dir);
    let receipt = |id: &str| {
        let body = pb::ReceiptBody {
            holder: "ZA-DFFE".into(),
            author: "KE-KWS".into(),
            at: chrono::Utc::now().timestamp_millis(),
            ids: vec![hex::decode(id).expect("hex")],
        };
        wildnet_node::membership::receipts::sign(&body, &za_key)
    };
    let mut za = as_za(&fed).await;
    let claim = za
        .acknowledge(pb::ReceiptBatch {
            receipts: vec![receipt(&local)],
        })
        .await
        .expect("acknowledge")
        .into_inner();
    assert_eq!(
        claim.accepted, 0,
        "a receipt for a LOCAL record was accepted"
    );
    let fine = za
        .acknowledge(pb::ReceiptBatch {
            receipts: vec![receipt(&shared)],
        })
        .await
        .expect("acknowledge")
        .into_inner();
    assert_eq!(fine.accepted, 1, "a receipt for a shared record is taken");
    let peers = fed.node("KE-KWS").peers().await.expect("peers");
    let p = peers
        .peers
        .iter()
        .find(|p| p.agency == "ZA-DFFE")
        .expect("ZA");
    assert!(p.rejected >= 1, "{p:?}");
    assert!(p.last_rejection.contains("outside its audience"), "{p:?}");
    assert!(p.last_rejection.contains(&local), "{p:?}");
    crate::sync::wait_until("the refusal audited", || async {
        let audit = fed.node("KE-KWS").audit().await.expect("audit");
        audit
            .iter()
            .any(|e| e.action == "receipt-refused" && e.detail.contains(&local))
    })
    .await;
    let got = ke
        .clone()
        .get(pb::GetRequest { id: local.clone() })
        .await
        .expect("get")
        .into_inner();
    assert!(
        got.holders.iter().all(|h| h.agency != "ZA-DFFE"),
        "{:?}",
        got.holders
    );
    fed.stop().await.expect("stop");
}

/// With no clock allowance, a record dated 3 s ahead is refused with the
/// reason, counted and named; once the clocks agree, the completeness
/// check brings it in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_dated_record_is_refused_until_the_clocks_agree() {
    let mut fed = federation(&["KE-KWS", "GB-NWCU"], &[], None).await;
    fed.restart_with("KE-KWS", |dir| {
        crate::limits::set_limit(dir, "clock_skew_secs", 0)
    })
    .await
    .expect("restart KE with no allowance");
    let replaced = chrono::Utc::now().timestamp_millis();
    let rogue = RoguePeer::replace(&mut fed, "GB-NWCU").await;
    // KE's link redials with backoff: the record is dated from the moment
    // KE follows the replacement's feed, so it arrives still ahead.
    crate::sync::wait_until("KE to follow the replaced GB's feed", || async {
        let peers = fed.node("KE-KWS").peers().await.expect("peers");
        peers
            .peers
            .iter()
            .any(|p| p.agency == "GB-NWCU" && p.caught_up_at > replaced)
    })
    .await;
    let mut body = drafts::signed_note_body("GB-NWCU", 1, pb::Scope::Federation);
    body.created_at = chrono::Utc::now().timestamp_millis() + 3_000;
    let ahead = Record::sign(body, &rogue.key);
    let id = ahead.id().to_hex();
    rogue.serve([ahead.signed().clone()]);
    let ke = fed.node("KE-KWS").client().await.expect("client");
    crate::sync::wait_until("KE to refuse the future-dated record", || async {
        let peers = fed.node("KE-KWS").peers().await.expect("peers");
        let p = peers
            .peers
            .iter()
            .find(|p| p.agency == "GB-NWCU")
            .cloned()
            .unwrap_or_default();
        p.last_rejection.starts_with(&id)
    })
    .await;
    let peers = fed.node("KE-KWS").peers().await.expect("peers");
    let p = peers
        .peers
        .iter()
        .find(|p| p.agency == "GB-NWCU")
        .expect("GB");
    assert!(
        p.last_rejection.contains("clock_skew_secs"),
        "the reason names the setting: {p:?}"
    );
    assert!(
        ke.clone()
            .get(pb::GetRequest { id: id.clone() })
            .await
            .is_err()
    );
    // The clocks agree once real time passes the record's date.
    wildnet_testbed::wait::until(
        "the record to arrive by the completeness check",
        Duration::from_secs(30),
        || {
            let (ke, id) = (ke.clone(), id.clone());
            async move {
                let mut c = ke.clone();
                let _ = c
                    .sync(pb::SyncRequest {
                        peer: "GB-NWCU".into(),
                        wait: true,
                        timeout_secs: 5,
                        verify: true,
                    })
                    .await;
                Ok(c.get(pb::GetRequest { id }).await.is_ok().then_some(()))
            }
        },
    )
    .await
    .expect("converged once the clocks agree");
    drop(rogue);
    fed.stop().await.expect("stop");
}
