//! A coordinated operation's whole life in a six-agency federation of real
//! nodes over mutual TLS: Kenya leads, Tanzania accepts, Uganda declines,
//! South Africa answers tentatively, Britain is added later and receives
//! the proposal with its history, Vietnam is an outsider and never holds
//! an operation record. Forged updates and answers from outside are
//! refused (at the author's node, and from a rogue peer at ingest) and
//! audited; the board shows answers, receipts, targets with correlations
//! and the live deconfliction state, the signed timeline and outcome totals.

use std::time::Duration;

use tonic::transport::Channel;
use wildnet_node::record::Record;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;
use wildnet_testbed::drafts::{self, federation_wide, handling, listing_with, seizure_with};
use wildnet_testbed::wait::Deadline;
use wildnet_tests::fed::{Federation, federation};
use wildnet_tests::rogue::RoguePeer;

use pb::OperationAnswer as A;
use pb::OperationStatus as S;

type Client = AgencyClient<Channel>;

const PHONE: &str = "phone:+254722333444";

async fn publish(c: &mut Client, req: pb::PublishRequest) -> Result<String, String> {
    c.publish(req)
        .await
        .map(|r| r.into_inner().id)
        .map_err(|e| e.message().to_string())
}

async fn board(c: &mut Client, id: &str, deconflict: bool) -> Result<pb::OperationBoard, String> {
    let req = pb::OperationBoardRequest {
        id: id.into(),
        deconflict,
        deadline_secs: 10,
    };
    c.get_operation(req)
        .await
        .map(|r| r.into_inner())
        .map_err(|e| e.message().to_string())
}

/// Waits until `node`'s board of `id` satisfies `ok`.
async fn wait_board(
    fed: &Federation,
    node: &str,
    id: &str,
    what: &str,
    ok: impl Fn(&pb::OperationBoard) -> bool,
) -> pb::OperationBoard {
    let mut c = fed.node(node).client().await.expect("client");
    let mut d = Deadline::new(format!("{node}: {what}"), Duration::from_secs(30));
    loop {
        let seen = match board(&mut c, id, false).await {
            Ok(b) if ok(&b) => return b,
            Ok(b) => format!("{b:?}"),
            Err(e) => e,
        };
        d.tick(seen).await.expect("bounded wait");
    }
}

fn row<'a>(b: &'a pb::OperationBoard, agency: &str) -> &'a pb::BoardParticipant {
    b.participants
        .iter()
        .find(|p| p.agency == agency)
        .unwrap_or_else(|| panic!("no row for {agency}: {b:?}"))
}

/// Operation records `c`'s node holds, of any of the three kinds.
async fn operation_records(c: &mut Client) -> usize {
    let mut n = 0;
    for kind in [
        "operation_proposal",
        "operation_response",
        "operation_update",
    ] {
        let q = pb::QueryRequest {
            kind: kind.into(),
            limit: 100,
            ..Default::default()
        };
        n += c.query(q).await.expect("query").into_inner().records.len();
    }
    n
}

async fn refusals(fed: &Federation, node: &str, action: &str) -> Vec<String> {
    let audit = fed.node(node).audit().await.expect("audit");
    audit
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| e.detail)
        .collect()
}

/// South Africa holds a LOCAL seizure with the target phone; Kenya a
/// listing naming it in national format. Returns Kenya's listing id once
/// South Africa's deconfliction filter answers for the phone.
async fn targets(fed: &Federation) -> String {
    let mut ke = fed.node("KE-KWS").client().await.expect("KE");
    let mut za = fed.node("ZA-DFFE").client().await.expect("ZA");
    let local = handling(pb::Tlp::Amber, pb::Scope::Local, &[], pb::HandlingCode::H0);
    publish(&mut za, seizure_with("OR Tambo", "ZA", &[PHONE], local))
        .await
        .expect("ZA seizure");
    let own = handling(pb::Tlp::Amber, pb::Scope::Local, &[], pb::HandlingCode::H0);
    let listing = listing_with(
        "pangolin scales",
        "facebook",
        "KE",
        &["phone:0722 333444"],
        own,
    );
    let listing = publish(&mut ke, listing).await.expect("KE listing");
    let mut d = Deadline::new("ZA's filter to hold the phone", Duration::from_secs(60));
    loop {
        let req = pb::DeconflictRequest {
            selectors: vec![PHONE.into()],
            peers: vec!["ZA-DFFE".into()],
            deadline_secs: 10,
        };
        let a = ke.deconflict(req).await.expect("deconflict").into_inner();
        if a.answers.iter().any(|x| x.outcome == "HIT") {
            return listing;
        }
        d.tick(format!("{:?}", a.answers))
            .await
            .expect("bounded wait");
    }
}

async fn client(fed: &Federation, agency: &str) -> Client {
    fed.node(agency).client().await.expect("client")
}

fn refused(why: Result<String, String>, because: &str) {
    assert!(
        why.as_ref().is_err_and(|w| w.contains(because)),
        "want a refusal naming {because:?}: {why:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operations_life_from_proposal_to_outcome() {
    let agencies = ["KE-KWS", "TZ-WD", "UG-UWA", "ZA-DFFE", "GB-NWCU", "VN-EP"];
    let mut fed = federation(&agencies, &[], None).await;
    let listing = targets(&fed).await;
    let op = propose(&fed, &listing).await;
    refused_at_the_author(&fed, &op).await;
    answer(&fed, &op).await;
    add_britain(&fed, &op).await;
    outsider_holds_nothing(&fed).await;
    // A rogue Uganda serves a forged update and an answer signed by the
    // outsider: Tanzania refuses both at ingest and audits them.
    forged(&mut fed, &op).await;
    let b = board(&mut client(&fed, "TZ-WD").await, &op, false)
        .await
        .expect("TZ board");
    assert_eq!(b.status, "planned", "the forged cancellation did not count");
    assert!(b.participants.iter().all(|p| p.agency != "VN-EP"));
    conclude(&fed, &op).await;
    fed.stop().await.expect("stop");
}

/// The lead proposes (answers were due a minute ago); the board
/// deconflicts the targets at once: South Africa holds the phone.
async fn propose(fed: &Federation, listing: &str) -> String {
    let mut ke = client(fed, "KE-KWS").await;
    let due = chrono::Utc::now().timestamp_millis() - 60_000;
    let tasks = [("TZ-WD", "watch the Namanga crossing")];
    let participants = ["TZ-WD", "UG-UWA", "ZA-DFFE"];
    let req = drafts::proposal("THUNDERBIRD", &participants, &[PHONE, listing], &tasks, due);
    let op = publish(&mut ke, req).await.expect("propose");
    let b = board(&mut ke, &op, true).await.expect("board");
    let phone = b.targets.iter().find(|t| t.target == PHONE).expect("phone");
    assert_eq!(phone.held_elsewhere.len(), 1, "{phone:?}");
    assert_eq!(phone.held_elsewhere[0].peer, "ZA-DFFE");
    assert!(!phone.held_elsewhere[0].contact.is_empty());
    assert_eq!(phone.correlations, 1, "Kenya's own listing: {phone:?}");
    let l = b
        .targets
        .iter()
        .find(|t| t.target == listing)
        .expect("listing");
    assert!(
        l.held && l.record_kind == "listing" && l.record_author == "KE-KWS",
        "{l:?}"
    );
    let no_hit = |a: &pb::DeconflictAnswer| a.peer == "TZ-WD" && a.outcome == "NO_HIT";
    assert!(b.deconfliction.iter().any(no_hit), "{:?}", b.deconfliction);
    assert_eq!(b.overdue, participants, "nobody answered yet");
    for p in participants {
        wait_board(fed, p, &op, "the proposal", |_| true).await;
    }
    op
}

/// An update by a participant, an answer by the lead or by an agency
/// outside: refused at the author's node, and audited there.
async fn refused_at_the_author(fed: &Federation, op: &str) {
    let (mut ke, mut tz) = (client(fed, "KE-KWS").await, client(fed, "TZ-WD").await);
    let cancel = drafts::update(op, S::Cancelled, &[], &[], "");
    refused(publish(&mut tz, cancel).await, "only the lead KE-KWS");
    let own = drafts::response(op, A::Accept, "", "desk");
    refused(publish(&mut ke, own).await, "does not answer its own");
    let outside = drafts::response(op, A::Accept, "", "desk");
    let mut vn = client(fed, "VN-EP").await;
    refused(
        publish(&mut vn, outside).await,
        "does not hold its proposal",
    );
    // Refusals are audited off the request path: wait for the entry.
    crate::sync::wait_until("TZ's refusal in its audit log", || async {
        let audited = refusals(fed, "TZ-WD", "refuse").await;
        audited.iter().any(|r| r.contains("only the lead"))
    })
    .await;
}

/// Three answers; the lead's board shows them with the receipts for the
/// proposal, a participant's shows them and who stored its own answer.
async fn answer(fed: &Federation, op: &str) {
    let answers = [
        ("TZ-WD", A::Accept, "12 rangers, 2 vehicles"),
        ("UG-UWA", A::Decline, "no officers free in the window"),
        ("ZA-DFFE", A::Tentative, "if the airport unit is free"),
    ];
    for (a, answer, commit) in answers {
        let contact = format!("duty desk {a}");
        let req = drafts::response(op, answer, commit, &contact);
        publish(&mut client(fed, a).await, req)
            .await
            .expect("answer");
    }
    let b = wait_board(fed, "KE-KWS", op, "three answers, three receipts", |b| {
        b.participants
            .iter()
            .all(|p| !p.answer.is_empty() && p.proposal_received_at != 0)
    })
    .await;
    assert_eq!(row(&b, "TZ-WD").answer, "accept");
    assert_eq!(row(&b, "TZ-WD").commitments, "12 rangers, 2 vehicles");
    assert_eq!(row(&b, "UG-UWA").answer, "decline");
    assert_eq!(row(&b, "ZA-DFFE").contact, "duty desk ZA-DFFE");
    assert!(b.overdue.is_empty(), "{:?}", b.overdue);
    assert_eq!(b.timeline.len(), 4);
    assert!(b.timeline.iter().all(|e| e.signature_ok));
    assert_eq!(b.tasks[0].agency, "TZ-WD");
    assert_eq!(b.status, "proposed");
    wait_board(fed, "TZ-WD", op, "its answer stored by the lead", |b| {
        b.timeline.len() == 4
            && row(b, "TZ-WD")
                .answer_received_by
                .contains(&"KE-KWS".into())
    })
    .await;
}

/// Britain is added: it receives the proposal and its history, answers,
/// and the completeness check agrees on who may hold what.
async fn add_britain(fed: &Federation, op: &str) {
    let add = drafts::update(op, S::Planned, &["GB-NWCU"], &[], "");
    publish(&mut client(fed, "KE-KWS").await, add)
        .await
        .expect("add GB");
    let gb = wait_board(fed, "GB-NWCU", op, "the proposal and its history", |b| {
        b.timeline.len() == 5
    })
    .await;
    assert!(row(&gb, "GB-NWCU").added_later);
    assert_eq!(
        row(&gb, "UG-UWA").answer,
        "decline",
        "an answer from before"
    );
    assert_eq!(gb.status, "planned");
    let mut gbc = client(fed, "GB-NWCU").await;
    let yes = drafts::response(op, A::Accept, "two analysts", "NWCU intel desk");
    publish(&mut gbc, yes).await.expect("GB answers");
    for n in ["TZ-WD", "KE-KWS"] {
        wait_board(fed, n, op, "GB's answer", |b| {
            row(b, "GB-NWCU").answer == "accept"
        })
        .await;
    }
    let sync = pb::SyncRequest {
        peer: "KE-KWS".into(),
        wait: true,
        timeout_secs: 30,
        verify: true,
    };
    let peers = gbc.sync(sync).await.expect("sync --verify").into_inner();
    let p = peers
        .peers
        .iter()
        .find(|p| p.agency == "KE-KWS")
        .expect("KE");
    assert_eq!((p.verify_missing, p.verify_peer_lacks), (0, 0), "{p:?}");
}

/// The outsider never held an operation record.
async fn outsider_holds_nothing(fed: &Federation) {
    let mut vn = client(fed, "VN-EP").await;
    assert_eq!(operation_records(&mut vn).await, 0);
    let listed = vn.list_operations(pb::ListOperationsRequest {}).await;
    assert!(listed.expect("list").into_inner().operations.is_empty());
}

/// The lead concludes with a seizure linked: the totals reach every
/// board, and no more answers are taken.
async fn conclude(fed: &Federation, op: &str) {
    let mut ke = client(fed, "KE-KWS").await;
    let mut s = seizure_with("Namanga", "TZ", &[], federation_wide());
    if let Some(pb::record_body::Payload::Seizure(z)) =
        s.draft.as_mut().and_then(|d| d.payload.as_mut())
    {
        (z.quantity, z.weight_grams) = (40, 12_500);
    }
    let seizure = publish(&mut ke, s).await.expect("seizure");
    let outcome = "3 arrested, 12.5 kg scales";
    let end = drafts::update(op, S::Concluded, &[], &[&seizure], outcome);
    publish(&mut ke, end).await.expect("conclude");
    let b = wait_board(fed, "TZ-WD", op, "the outcome with the seizure held", |b| {
        b.outcome.as_ref().is_some_and(|o| o.seizures_held == 1)
    })
    .await;
    let o = b.outcome.clone().unwrap_or_default();
    assert_eq!(
        (o.items, o.weight_grams, o.text.as_str()),
        (40, 12_500, outcome)
    );
    assert_eq!(b.status, "concluded");
    let late = drafts::response(op, A::Decline, "", "desk");
    refused(
        publish(&mut client(fed, "TZ-WD").await, late).await,
        "concluded",
    );
}

/// Replaces Uganda with a rogue that serves an update signed with
/// Uganda's key and an answer signed with Vietnam's; waits until Tanzania
/// refused both, with the reasons, in its audit log.
async fn forged(fed: &mut Federation, op: &str) {
    let vn_key = {
        let dir = &fed.node("VN-EP").dir;
        let s = wildnet_node::config::Settings::load(&dir.join("node.toml")).expect("settings");
        wildnet_node::identity::load_signing_key(&s.signing_key).expect("VN key")
    };
    let rogue = RoguePeer::replace(fed, "UG-UWA").await;
    let participants = ["KE-KWS", "TZ-WD", "UG-UWA", "ZA-DFFE", "GB-NWCU"];
    let sign = |req: pb::PublishRequest, author: &str, key: &ed25519_dalek::SigningKey| {
        let mut b = req.draft.unwrap_or_default();
        b.schema_version = wildnet_node::record::SCHEMA_VERSION;
        b.author = author.into();
        b.created_at = chrono::Utc::now().timestamp_millis();
        b.handling = Some(handling(
            pb::Tlp::Amber,
            pb::Scope::Agencies,
            &participants,
            pb::HandlingCode::H0,
        ));
        Record::sign(b, key).signed().clone()
    };
    let update = sign(
        drafts::update(op, S::Cancelled, &[], &[], "called off"),
        "UG-UWA",
        &rogue.key,
    );
    let outside = sign(
        drafts::response(op, A::Accept, "we join", "vn desk"),
        "VN-EP",
        &vn_key,
    );
    rogue.serve([update, outside]);
    let mut d = Deadline::new("TZ to refuse both forgeries", Duration::from_secs(30));
    loop {
        let rejected = refusals(fed, "TZ-WD", "reject").await;
        let lead = rejected
            .iter()
            .any(|r| r.contains("only the lead KE-KWS may update"));
        let outsider = rejected
            .iter()
            .any(|r| r.contains("VN-EP, which is not a participant"));
        if lead && outsider {
            return;
        }
        d.tick(format!("{rejected:?}")).await.expect("bounded wait");
    }
}
