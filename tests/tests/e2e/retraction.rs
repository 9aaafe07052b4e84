//! Only the author retracts, and a tombstone is final — tried as a hostile
//! peer would: a rogue holding GB-NWCU's real certificate and signing key
//! serves retractions of other agencies' records and retracted records
//! again, to real nodes over mutual TLS.

use std::time::Duration;

use tonic::transport::Channel;
use wildnet_node::record::{Record, RecordId};
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;
use wildnet_testbed::wait::Deadline;
use wildnet_tests::fed::{Federation, federation};
use wildnet_tests::rogue::RoguePeer;

use crate::completeness::{note_body, peer};
use crate::sync::{held_ids, wait_until};

/// A retraction of `target` by `author`, signed with `key`.
fn retraction(target: &str, author: &str, key: &ed25519_dalek::SigningKey) -> Record {
    let mut b = note_body(author, 0, pb::Scope::Federation);
    b.payload = Some(pb::record_body::Payload::Retraction(pb::Retraction {
        target: target.into(),
        reason: format!("{author} says withdraw"),
    }));
    Record::sign(b, key)
}

fn signing_key(dir: &std::path::Path) -> ed25519_dalek::SigningKey {
    let s = wildnet_node::config::Settings::load(&dir.join("node.toml")).expect("settings");
    wildnet_node::identity::load_signing_key(&s.signing_key).expect("signing key")
}

async fn publish(c: &mut AgencyClient<Channel>, n: usize) -> (String, pb::SignedRecord) {
    let id = c
        .publish(crate::sync::draft(
            n,
            pb::Tlp::Green,
            pb::Scope::Federation,
            &[],
            pb::HandlingCode::H0,
        ))
        .await
        .expect("publish")
        .into_inner()
        .id;
    let signed = c
        .get(pb::GetRequest { id: id.clone() })
        .await
        .expect("get")
        .into_inner()
        .record
        .and_then(|r| r.signed)
        .expect("signed record");
    (id, signed)
}

/// KE retracts `id` ("seller misidentified"); returns the retraction's id.
async fn retract(c: &mut AgencyClient<Channel>, id: &str) -> String {
    c.retract(pb::RetractRequest {
        id: id.into(),
        reason: "seller misidentified".into(),
    })
    .await
    .expect("retract")
    .into_inner()
    .id
}

/// `get` of an id: `Ok` when held, else the node's message.
async fn get(c: &mut AgencyClient<Channel>, id: &str) -> Result<pb::GetResponse, String> {
    c.get(pb::GetRequest { id: id.into() })
        .await
        .map(|r| r.into_inner())
        .map_err(|e| e.message().to_string())
}

/// Waits until `node` has counted `n` records from `from` under `what`
/// (`received` or `rejected`).
async fn wait_count(fed: &Federation, node: &str, from: &str, what: &str, n: u64) -> pb::PeerState {
    let mut d = Deadline::new(
        format!("{node}: {n} {what} from {from}"),
        Duration::from_secs(30),
    );
    loop {
        let p = peer(&fed.node(node).peers().await.expect("peers"), from).clone();
        let got = if what == "rejected" {
            p.rejected
        } else {
            p.received
        };
        if got >= n {
            return p;
        }
        d.tick(format!("{p:?}")).await.expect("bounded wait");
    }
}

fn audited(audit: &[pb::AuditEntry], action: &str, prefix: &str) -> Option<String> {
    audit
        .iter()
        .find(|e| e.action == action && e.detail.starts_with(prefix))
        .map(|e| e.detail.clone())
}

/// The defect's four steps, served by a rogue GB-NWCU to KE-KWS, end with
/// the record absent, KE's tombstone intact and named, GB's retraction
/// refused (named in `peers` and the audit log), and nothing of it
/// forwarded to ZA-DFFE. GB's retraction of a KE record KE still holds is
/// refused as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_cannot_overwrite_a_retraction_or_bring_the_record_back() {
    let mut fed = federation(
        &["KE-KWS", "GB-NWCU", "ZA-DFFE"],
        &[],
        Some(&[("KE-KWS", "GB-NWCU"), ("KE-KWS", "ZA-DFFE")]),
    )
    .await;
    let rogue = RoguePeer::replace(&mut fed, "GB-NWCU").await;
    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    // 1. KE publishes R and retracts it itself.
    let (r_id, r_signed) = publish(&mut ke, 1).await;
    let (kept_id, _) = publish(&mut ke, 2).await;
    let own = retract(&mut ke, &r_id).await;

    // 2. GB serves R again: refused.
    rogue.serve([r_signed.clone()]);
    let p = wait_count(&fed, "KE-KWS", "GB-NWCU", "rejected", 1).await;
    assert!(p.last_rejection.contains("retracted"), "{p:?}");
    // 3. GB serves its own retraction of R: refused, by name.
    let forged = retraction(&r_id, "GB-NWCU", &rogue.key);
    let forged_id = forged.id().to_hex();
    rogue.serve([forged.signed().clone()]);
    let p = wait_count(&fed, "KE-KWS", "GB-NWCU", "rejected", 2).await;
    assert!(
        p.last_rejection.starts_with(&forged_id)
            && p.last_rejection.contains("only its author KE-KWS"),
        "peers names GB's retraction and why: {:?}",
        p.last_rejection
    );
    // 4. GB serves R once more: still refused. And GB's retraction of a
    // record KE still holds is refused too.
    rogue.serve([r_signed]);
    let p = wait_count(&fed, "KE-KWS", "GB-NWCU", "rejected", 3).await;
    assert!(p.last_rejection.contains("retracted"), "{p:?}");
    let held = retraction(&kept_id, "GB-NWCU", &rogue.key);
    rogue.serve([held.signed().clone()]);
    let p = wait_count(&fed, "KE-KWS", "GB-NWCU", "rejected", 4).await;
    assert!(p.last_rejection.contains("only its author"), "{p:?}");
    assert_eq!(p.received, 0, "{p:?}");

    let why = get(&mut ke, &r_id).await.expect_err("R is back at KE");
    assert!(
        why.contains("seller misidentified") && why.contains(&own) && why.contains("by KE-KWS"),
        "get names KE's own tombstone: {why}"
    );
    assert!(
        get(&mut ke, &forged_id).await.is_err(),
        "GB's retraction held"
    );
    assert!(
        get(&mut ke, &kept_id).await.is_ok(),
        "a held record was lost"
    );
    // Rejections are audited without waiting for a flush of their own.
    let ke_node = fed.node("KE-KWS");
    wait_until("KE's audited refusal of GB's retraction", || async {
        let audit = ke_node.audit().await.expect("audit");
        audited(&audit, "reject", &forged_id).is_some()
    })
    .await;
    let audit = ke_node.audit().await.expect("audit");
    let detail = audited(&audit, "reject", &forged_id).expect("GB's retraction audited");
    assert!(detail.contains("only its author KE-KWS"), "{detail}");

    // Nothing of it reached ZA-DFFE.
    let mut za = fed.node("ZA-DFFE").client().await.expect("client");
    za.sync(pb::SyncRequest {
        peer: "KE-KWS".into(),
        wait: true,
        timeout_secs: 30,
        verify: false,
    })
    .await
    .expect("sync --wait");
    let at_za = held_ids(&mut za).await;
    assert!(
        at_za.contains(&own) && at_za.contains(&kept_id),
        "{at_za:?}"
    );
    assert!(
        !at_za.contains(&r_id) && !at_za.contains(&forged_id),
        "{at_za:?}"
    );
    drop(rogue);
    fed.stop().await.expect("stop");
}

/// A retraction of an id the node never held binds only its signer: GB
/// cannot pre-empt KE's record (it is stored when it arrives, GB's
/// retraction dropped and audited), while KE's own early retraction
/// refuses the record even after GB claimed the same id first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_emptive_retraction_binds_only_its_signer() {
    let mut fed = federation(
        &["KE-KWS", "GB-NWCU", "ZA-DFFE"],
        &[],
        Some(&[("ZA-DFFE", "GB-NWCU")]),
    )
    .await;
    let ke_key = signing_key(&fed.node("KE-KWS").dir);
    let rogue = RoguePeer::replace(&mut fed, "GB-NWCU").await;
    let mut za = fed.node("ZA-DFFE").client().await.expect("client");

    let x = Record::sign(note_body("KE-KWS", 1, pb::Scope::Federation), &ke_key);
    let x_id = x.id().to_hex();
    let pre = retraction(&x_id, "GB-NWCU", &rogue.key);
    rogue.serve([pre.signed().clone()]);
    wait_count(&fed, "ZA-DFFE", "GB-NWCU", "received", 1).await;
    let why = get(&mut za, &x_id).await.expect_err("nothing held yet");
    assert!(why.contains("pending") && why.contains("GB-NWCU"), "{why}");
    rogue.serve([x.signed().clone()]);
    wait_count(&fed, "ZA-DFFE", "GB-NWCU", "received", 2).await;
    assert!(
        get(&mut za, &x_id).await.is_ok(),
        "KE's record was pre-empted"
    );
    let pre_id = pre.id().to_hex();
    assert!(
        get(&mut za, &pre_id).await.is_err(),
        "GB's claim still held"
    );
    let audit = fed.node("ZA-DFFE").audit().await.expect("audit");
    let detail = audited(&audit, "retraction-dropped", &pre_id).expect("drop audited");
    assert!(detail.contains("written by KE-KWS"), "{detail}");

    let y = Record::sign(note_body("KE-KWS", 2, pb::Scope::Federation), &ke_key);
    let y_id = y.id().to_hex();
    let rival = retraction(&y_id, "GB-NWCU", &rogue.key);
    let own = retraction(&y_id, "KE-KWS", &ke_key);
    rogue.serve([rival.signed().clone(), own.signed().clone()]);
    wait_count(&fed, "ZA-DFFE", "GB-NWCU", "received", 4).await;
    rogue.serve([y.signed().clone()]);
    let p = wait_count(&fed, "ZA-DFFE", "GB-NWCU", "rejected", 1).await;
    assert!(p.last_rejection.starts_with(&y_id), "{p:?}");
    let why = get(&mut za, &y_id)
        .await
        .expect_err("Y stored after KE retracted it");
    assert!(
        why.contains("by KE-KWS") && !why.contains("pending"),
        "{why}"
    );
    assert!(get(&mut za, &rival.id().to_hex()).await.is_err());
    assert!(get(&mut za, &own.id().to_hex()).await.is_ok());
    drop(rogue);
    fed.stop().await.expect("stop");
}

/// A data dir left as the defect left it — KE's tombstone overwritten by
/// GB's retraction and the record stored again from GB — is mended when
/// the node opens it: the record is gone again, KE's tombstone is back and
/// named, GB's retraction is dropped, and the repair is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_hit_by_the_defect_is_mended_when_the_node_opens_it() {
    let mut fed = federation(&["KE-KWS", "GB-NWCU"], &[], None).await;
    let gb_key = signing_key(&fed.node("GB-NWCU").dir);
    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    let (r_id, r_signed) = publish(&mut ke, 1).await;
    let own = retract(&mut ke, &r_id).await;
    let forged = retraction(&r_id, "GB-NWCU", &gb_key);
    let forged_id = forged.id().to_hex();

    fed.restart_with("KE-KWS", |dir| {
        let store = wildnet_node::storage::Store::open(&dir.join("data").join("db"), "KE-KWS")
            .expect("open KE's store");
        let rt = tokio::runtime::Handle::current();
        let from_gb = |r: Record| wildnet_node::storage::InsertItem {
            record: r,
            draft_key: None,
            from: "GB-NWCU".into(),
        };
        let r = Record::from_stored(r_signed).expect("R decodes");
        tokio::task::block_in_place(|| {
            rt.block_on(store.insert_unchecked(vec![from_gb(forged.clone())]))
        })
        .expect("forge GB's retraction");
        let id: RecordId = r_id.parse().expect("id");
        let mut t = store.tombstone(&id).expect("read").expect("KE's tombstone");
        (t.author, t.retraction) = ("GB-NWCU".into(), forged_id.clone());
        store.put_tombstone_unchecked(&t).expect("overwrite");
        tokio::task::block_in_place(|| rt.block_on(store.insert_unchecked(vec![from_gb(r)])))
            .expect("store R again");
        assert!(store.get(&id).expect("get").is_some(), "the forged state");
        store.close();
    })
    .await
    .expect("restart");

    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    let why = get(&mut ke, &r_id).await.expect_err("R still back");
    assert!(
        why.contains(&own) && why.contains("by KE-KWS") && why.contains("seller misidentified"),
        "{why}"
    );
    assert!(
        get(&mut ke, &forged_id).await.is_err(),
        "GB's retraction held"
    );
    let audit = fed.node("KE-KWS").audit().await.expect("audit");
    let detail = audited(&audit, "retraction-repaired", &r_id).expect("repair audited");
    assert!(detail.contains("deleted again"), "{detail}");
    assert!(audited(&audit, "retraction-dropped", &forged_id).is_some());
    fed.stop().await.expect("stop");
}
