//! Sync under faults: a widened sharing policy is re-pulled, the
//! completeness check repairs a lost row, a malicious peer's tampered
//! records are refused while the rest arrive, and a node killed with
//! SIGKILL mid-sync converges with no loss and no duplicate.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use tonic::transport::Channel;

use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;
use wildnet_testbed::wait::Deadline;
use wildnet_tests::fed::federation;
use wildnet_tests::rogue::RoguePeer;

use crate::sync::{draft, held_ids, wait_until};

async fn publish(c: &mut AgencyClient<Channel>, n: usize, tlp: pb::Tlp) -> String {
    c.publish(draft(
        n,
        tlp,
        pb::Scope::Federation,
        &[],
        pb::HandlingCode::H0,
    ))
    .await
    .expect("publish")
    .into_inner()
    .id
}

async fn sync(c: &mut AgencyClient<Channel>, verify: bool) -> pb::PeersResponse {
    sync_with(c, "", verify).await
}

async fn sync_with(c: &mut AgencyClient<Channel>, peer: &str, verify: bool) -> pb::PeersResponse {
    c.sync(pb::SyncRequest {
        peer: peer.to_string(),
        wait: true,
        timeout_secs: 30,
        verify,
    })
    .await
    .expect("sync --wait")
    .into_inner()
}

pub(crate) fn peer<'a>(r: &'a pb::PeersResponse, id: &str) -> &'a pb::PeerState {
    r.peers.iter().find(|p| p.agency == id).expect("peer state")
}

fn set_share(dir: &Path, peer: &str, max_tlp: &str) {
    let cfg = dir.join("node.toml");
    let text = std::fs::read_to_string(&cfg).expect("read node.toml");
    let section = format!("[federation.share.{peer}]");
    let text = match text.find(&section) {
        Some(i) => format!("{}{section}\nmax_tlp = \"{max_tlp}\"\n", &text[..i]),
        None => format!("{text}\n{section}\nmax_tlp = \"{max_tlp}\"\n"),
    };
    std::fs::write(&cfg, text).expect("write node.toml");
}

/// Narrowing a peer's policy keeps its epoch; widening it bumps the epoch,
/// and the peer re-pulls from the start and gets what it may now hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_widening_triggers_a_re_pull() {
    let mut fed = federation(&["KE-KWS", "ZA-DFFE"], &[], None).await;
    fed.restart_with("KE-KWS", |d| set_share(d, "ZA-DFFE", "green"))
        .await
        .expect("restart");
    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    let mut green = BTreeSet::new();
    let mut all = BTreeSet::new();
    for n in 0..3 {
        green.insert(publish(&mut ke, n, pb::Tlp::Green).await);
        all.insert(publish(&mut ke, 100 + n, pb::Tlp::Amber).await);
    }
    all.extend(green.iter().cloned());
    let mut za = fed.node("ZA-DFFE").client().await.expect("client");
    let r = sync(&mut za, false).await;
    assert!(
        held_ids(&mut za).await == green,
        "only GREEN under max_tlp = green"
    );
    assert_eq!(
        peer(&r, "KE-KWS").policy_epoch,
        0,
        "narrowing keeps the epoch"
    );

    fed.restart_with("KE-KWS", |d| set_share(d, "ZA-DFFE", "amber"))
        .await
        .expect("restart");
    let mut za = fed.node("ZA-DFFE").client().await.expect("client");
    let mut d = Deadline::new("a re-pull after widening", Duration::from_secs(30));
    loop {
        let r = sync(&mut za, false).await;
        if held_ids(&mut za).await == all {
            assert_eq!(peer(&r, "KE-KWS").policy_epoch, 1);
            break;
        }
        d.tick(format!("{r:?}")).await.expect("bounded wait");
    }
    let audit = fed.node("ZA-DFFE").audit().await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "re-pull" && e.detail.contains("widened")),
        "ZA audits the re-pull"
    );
    let audit = fed.node("KE-KWS").audit().await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "policy-widened" && e.detail.starts_with("ZA-DFFE")),
        "KE audits the widening"
    );
    fed.stop().await.expect("stop");
}

/// Rows lost behind the cursor are invisible to the pull; the completeness
/// check finds exactly them, fetches them, and says so in `peers`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completeness_check_repairs_deleted_rows() {
    let mut fed = federation(&["KE-KWS", "ZA-DFFE"], &[], None).await;
    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    let mut ids = Vec::new();
    for n in 0..300 {
        ids.push(publish(&mut ke, n, pb::Tlp::Green).await);
    }
    let all: BTreeSet<String> = ids.iter().cloned().collect();
    let mut za = fed.node("ZA-DFFE").client().await.expect("client");
    sync(&mut za, false).await;
    assert!(
        held_ids(&mut za).await == all,
        "ZA lacks records after sync --wait"
    );

    let lost: Vec<String> = vec![ids[3].clone(), ids[150].clone(), ids[299].clone()];
    let to_drop = lost.clone();
    fed.restart_with("ZA-DFFE", move |dir| {
        let store = wildnet_node::storage::Store::open(&dir.join("data").join("db"), "ZA-DFFE")
            .expect("open ZA's store");
        for id in &to_drop {
            let id: wildnet_node::record::RecordId = id.parse().expect("id");
            assert!(store.drop_record_row(&id).expect("drop row"));
        }
    })
    .await
    .expect("restart");
    let mut za = fed.node("ZA-DFFE").client().await.expect("client");
    let r = sync(&mut za, false).await;
    let held = held_ids(&mut za).await;
    assert_eq!(
        held.len(),
        297,
        "the pull alone does not see rows behind its cursor"
    );
    assert_eq!(peer(&r, "KE-KWS").verified_at, 0);

    let r = sync(&mut za, true).await;
    assert!(
        held_ids(&mut za).await == all,
        "the check did not repair the gap"
    );
    let p = peer(&r, "KE-KWS");
    assert_eq!(
        (p.verify_missing, p.verify_repaired, p.verify_peer_lacks),
        (3, 3, 0),
        "{p:?}"
    );
    assert!(p.verified_at > 0 && p.verify_error.is_empty(), "{p:?}");
    // The exchange grows with the 3 differences, not with the 300 ids.
    assert!(
        p.verify_ranges < 60,
        "{} ranges for 3 differences",
        p.verify_ranges
    );
    let back = za
        .get(pb::GetRequest {
            id: lost[1].clone(),
        })
        .await
        .expect("repaired record")
        .into_inner();
    assert_eq!(back.record.expect("record").received_from, "KE-KWS");
    // A second check finds nothing.
    let r = sync(&mut za, true).await;
    let p = peer(&r, "KE-KWS");
    assert_eq!((p.verify_missing, p.verify_ranges), (0, 1), "{p:?}");
    fed.stop().await.expect("stop");
}

pub(crate) use wildnet_testbed::drafts::signed_note_body as note_body;

/// GB-NWCU's node is replaced by a rogue with GB's real certificate and
/// signing key. It serves five good records and three forged ones: a body
/// altered after signing, a record claiming ZA-DFFE as author, and a LOCAL
/// record KE may not hold. KE stores the five, rejects the three by id and
/// reason, and the stream goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_records_from_a_malicious_peer_are_refused_and_the_rest_arrive() {
    use wildnet_node::record::{Record, RecordId};
    let mut fed = federation(
        &["KE-KWS", "GB-NWCU", "ZA-DFFE"],
        &[],
        Some(&[("KE-KWS", "GB-NWCU")]),
    )
    .await;
    let rogue = RoguePeer::replace(&mut fed, "GB-NWCU").await;
    let key = rogue.key.clone();
    let good: Vec<Record> = (0..5)
        .map(|n| Record::sign(note_body("GB-NWCU", n, pb::Scope::Federation), &key))
        .collect();
    let mut altered = Record::sign(note_body("GB-NWCU", 10, pb::Scope::Federation), &key)
        .signed()
        .clone();
    let last = altered.body.len() - 1;
    altered.body[last] ^= 0x01;
    let impostor = Record::sign(note_body("ZA-DFFE", 11, pb::Scope::Federation), &key)
        .signed()
        .clone();
    let local = Record::sign(note_body("GB-NWCU", 12, pb::Scope::Local), &key)
        .signed()
        .clone();
    let bad_ids: Vec<String> = [&altered, &impostor, &local]
        .iter()
        .map(|s| RecordId::of_body(&s.body).to_hex())
        .collect();
    let items = vec![
        good[0].signed().clone(),
        altered,
        good[1].signed().clone(),
        impostor,
        good[2].signed().clone(),
        local,
        good[3].signed().clone(),
        good[4].signed().clone(),
    ];

    rogue.serve(items);

    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    wait_until("the five good records at KE", || {
        let mut c = ke.clone();
        let want: Vec<String> = good.iter().map(|r| r.id().to_hex()).collect();
        async move {
            for id in want {
                if c.get(pb::GetRequest { id }).await.is_err() {
                    return false;
                }
            }
            true
        }
    })
    .await;
    for id in &bad_ids {
        assert!(
            ke.get(pb::GetRequest { id: id.clone() }).await.is_err(),
            "forged record {id} was stored"
        );
    }
    // The counts follow the stored batch (they are kept after the flush).
    let ke_node = fed.node("KE-KWS");
    wait_until("KE's counts of GB's batch", || async {
        let p = ke_node.peers().await.expect("peers");
        let p = peer(&p, "GB-NWCU");
        p.received + p.rejected >= 8
    })
    .await;
    let p = fed.node("KE-KWS").peers().await.expect("peers");
    let p = peer(&p, "GB-NWCU");
    assert_eq!((p.received, p.rejected), (5, 3), "{p:?}");
    assert!(
        p.last_rejection.starts_with(&bad_ids[2]) && p.last_rejection.contains("audience"),
        "peers names the last rejected record and why: {:?}",
        p.last_rejection
    );
    // Rejections are audited without waiting for a flush of their own.
    wait_until("KE's audited rejections", || async {
        let audit = ke_node.audit().await.expect("audit");
        audit.iter().filter(|e| e.action == "reject").count() >= 3
    })
    .await;
    let audit = fed.node("KE-KWS").audit().await.expect("audit");
    let reason = |id: &str| {
        audit
            .iter()
            .find(|e| e.action == "reject" && e.detail.starts_with(id))
            .map(|e| e.detail.to_lowercase())
            .unwrap_or_else(|| panic!("no audited rejection of {id}"))
    };
    assert!(
        reason(&bad_ids[0]).contains("signature"),
        "{}",
        reason(&bad_ids[0])
    );
    assert!(
        reason(&bad_ids[1]).contains("key"),
        "{}",
        reason(&bad_ids[1])
    );
    assert!(
        reason(&bad_ids[2]).contains("audience"),
        "{}",
        reason(&bad_ids[2])
    );
    drop(rogue);
    fed.stop().await.expect("stop");
}

async fn records(c: &mut AgencyClient<Channel>) -> u64 {
    c.stats(pb::StatsRequest::default())
        .await
        .map(|r| r.into_inner().records)
        .unwrap_or(0)
}

/// ZA-DFFE runs as a real `wildnet-node` process and is killed with
/// SIGKILL while pulling KE-KWS's feed; restarted, it converges to exactly
/// KE's records — none lost, none twice — and its audit chain holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_sync_converges_without_loss_or_duplicates() {
    const N: usize = 10_000;
    let mut fed = federation(&["KE-KWS", "ZA-DFFE"], &[], None).await;
    let za = fed
        .nodes
        .iter()
        .position(|n| n.agency == "ZA-DFFE")
        .expect("za");
    fed.nodes[za].stop().await.expect("stop");

    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    let items: Vec<pb::ImportItem> = (0..N)
        .map(|n| pb::ImportItem {
            line: n as u64 + 1,
            draft: draft(
                n,
                pb::Tlp::Green,
                pb::Scope::Federation,
                &[],
                pb::HandlingCode::H0,
            )
            .draft,
        })
        .collect();
    let summary = ke
        .import(tokio_stream::iter(items))
        .await
        .expect("import")
        .into_inner();
    assert_eq!(summary.accepted, N as u64);
    let want = held_ids(&mut ke).await;

    // Now as a child process.
    fed.nodes[za]
        .start_process()
        .expect("start ZA as a process");
    let mut c = fed.nodes[za].client().await.expect("connect");
    let mut d = Deadline::new("ZA to start pulling", Duration::from_secs(60))
        .every(Duration::from_millis(2));
    let mut seen = records(&mut c).await;
    while seen == 0 {
        d.tick("no record yet").await.expect("bounded wait");
        seen = records(&mut c).await;
    }
    fed.nodes[za].kill().expect("SIGKILL, mid-way");
    assert!(
        (seen as usize) < N,
        "ZA had pulled all {N} before it could be killed"
    );

    fed.nodes[za].start_process().expect("restart ZA");
    let mut c = fed.nodes[za].client().await.expect("connect");
    sync(&mut c, false).await;
    assert!(
        held_ids(&mut c).await == want,
        "loss or extra records after SIGKILL"
    );
    assert_eq!(records(&mut c).await, N as u64, "no duplicate");
    let mut listed = 0;
    let mut token = String::new();
    loop {
        let r = c
            .query(pb::QueryRequest {
                limit: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("query")
            .into_inner();
        listed += r.records.len();
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(listed, N, "a query lists each record once");
    let v = c
        .audit_verify(pb::AuditVerifyRequest {})
        .await
        .expect("audit verify")
        .into_inner();
    assert!(v.ok, "audit chain broken after SIGKILL: {v:?}");
    fed.stop().await.expect("stop");
}

/// In a line KE — ZA — GB: a chain of three versions converges at GB with
/// the same history; a record that expires while GB is offline is never
/// sent to it by ZA, which still stores it until its next purge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_converge_and_expired_records_are_never_sent() {
    let mut fed = federation(
        &["KE-KWS", "ZA-DFFE", "GB-NWCU"],
        &[],
        Some(&[("KE-KWS", "ZA-DFFE"), ("ZA-DFFE", "GB-NWCU")]),
    )
    .await;
    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    let v1 = publish(&mut ke, 1, pb::Tlp::Green).await;
    let mut chain = vec![v1.clone()];
    for n in 2..=3 {
        let mut d = draft(
            n,
            pb::Tlp::Green,
            pb::Scope::Federation,
            &[],
            pb::HandlingCode::H0,
        );
        if let Some(b) = d.draft.as_mut() {
            b.supersedes = chain.last().expect("previous").clone();
        }
        chain.push(ke.publish(d).await.expect("new version").into_inner().id);
    }
    let mut gb = fed.node("GB-NWCU").client().await.expect("client");
    wait_until("the third version at GB", || {
        let (mut c, id) = (gb.clone(), chain[2].clone());
        async move { c.get(pb::GetRequest { id }).await.is_ok() }
    })
    .await;
    let got = gb
        .get(pb::GetRequest { id: v1.clone() })
        .await
        .expect("v1 at GB")
        .into_inner();
    let history: Vec<String> = got.history.iter().map(|h| h.id.clone()).collect();
    assert_eq!(history, chain, "the same chain, oldest first");
    assert_eq!(got.record.expect("v1").superseded_by, chain[1]);

    // GB goes offline; KE publishes a record that expires in 1.5 s.
    let gb_idx = fed
        .nodes
        .iter()
        .position(|n| n.agency == "GB-NWCU")
        .expect("gb");
    fed.nodes[gb_idx].stop().await.expect("stop");
    let mut d = draft(
        9,
        pb::Tlp::Green,
        pb::Scope::Federation,
        &[],
        pb::HandlingCode::H0,
    );
    let expires_at = chrono::Utc::now().timestamp_millis() + 1_500;
    if let Some(b) = d.draft.as_mut() {
        b.expires_at = expires_at;
    }
    let short = ke.publish(d).await.expect("publish").into_inner().id;
    let mut za = fed.node("ZA-DFFE").client().await.expect("client");
    sync_with(&mut za, "KE-KWS", false).await;
    assert!(za.get(pb::GetRequest { id: short.clone() }).await.is_ok());
    // Past its expiry it is still stored at ZA until the next purge (every
    // 60 s): ZA must send it neither by Pull nor to the completeness check.
    wait_until("the record's expiry", || async move {
        chrono::Utc::now().timestamp_millis() > expires_at + 100
    })
    .await;
    fed.nodes[gb_idx]
        .start_in_process(None)
        .await
        .expect("start again");
    let mut gb = fed.node("GB-NWCU").client().await.expect("client");
    let r = sync(&mut gb, true).await;
    assert!(
        gb.get(pb::GetRequest { id: short }).await.is_err(),
        "an expired record reached GB"
    );
    // Not even offered: GB would have refused it, and counted that.
    let p = peer(&r, "ZA-DFFE");
    assert_eq!((p.rejected, p.verify_missing), (0, 0), "{p:?}");
    assert_eq!(held_ids(&mut gb).await.len(), 3, "the three versions only");
    fed.stop().await.expect("stop");
}
