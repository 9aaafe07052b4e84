//! The dashboard in a real browser: headless Chromium (scripts off) on
//! real nodes of a three-agency federation, page by page — overview,
//! search, a record, alerts, operations, an operation board, the audit
//! log — asserting what each shows, and that a record outside the rules
//! (GB-NWCU is not in the group a note was shared with) is not shown.
//! A screenshot of every page is left in `target/test-artifacts/dashboard/`.

use std::net::SocketAddr;
use std::path::Path;

use wildnet_proto::v1 as pb;
use wildnet_testbed::drafts::{
    federation_wide, handling, listing_with, note_with, proposal, response, seizure_with,
};
use wildnet_testbed::wait::{DEFAULT, until};
use wildnet_testbed::{FedSpec, Federation};
use wildnet_tests::fed::federation_of;
use wildnet_tests::web::{artifacts, run_chromium};

const PHONE: &str = "phone:+254722333444";

/// Loads `path` of the dashboard at `addr` in Chromium: the DOM it built,
/// and a screenshot saved as `<shot>.png` among the test artifacts.
fn browse(profile: &Path, addr: SocketAddr, path: &str, shot: &str) -> String {
    let url = format!("http://{addr}{path}");
    let dom = run_chromium(profile, &["--dump-dom".into(), url.clone()]);
    assert!(dom.contains("wildnet "), "no dashboard at {url}: {dom}");
    assert!(!dom.contains("<script"), "{url} carries a script: {dom}");
    let png = artifacts("dashboard").join(format!("{shot}.png"));
    let _ = std::fs::remove_file(&png);
    run_chromium(
        profile,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,1000".into(),
            url,
        ],
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "{shot}: not a screenshot"
    );
    dom
}

fn pangolin_listing() -> pb::PublishRequest {
    let mut l = listing_with(
        "Pangolin scales for sale",
        "facebook",
        "KE",
        &[PHONE],
        federation_wide(),
    );
    if let Some(pb::record_body::Payload::Listing(listing)) =
        l.draft.as_mut().and_then(|d| d.payload.as_mut())
    {
        listing.species = Some(pb::Species {
            scientific_name: "Manis temminckii".into(),
            ..Default::default()
        });
    }
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium_shows_what_the_node_holds_and_nothing_else() {
    let spec = FedSpec::new(&["KE-KWS", "ZA-DFFE", "GB-NWCU"])
        .groups(&[("SADC", &["KE-KWS", "ZA-DFFE"])])
        .http(0);
    let fed = federation_of(spec).await;
    fed.wait_peer_state("KE-KWS", &["ZA-DFFE", "GB-NWCU"], "authenticated")
        .await
        .expect("links");
    let case = the_case(&fed).await;
    let profile = tempfile::tempdir().expect("profile");
    kenyas_pages(&fed, profile.path(), &case);
    outside_the_rules(&fed, profile.path(), &case).await;
    fed.stop().await.expect("stop");
}

/// The ids of the case's records.
struct Case {
    listing: String,
    note: String,
    op: String,
}

/// KE's listing, its SADC note and its operation with ZA; ZA's seizure
/// sharing the listing's phone, and its answer; returns once KE has the
/// alert, both receipts and the answer.
async fn the_case(fed: &Federation) -> Case {
    let (mut ke, mut za) = (
        fed.node("KE-KWS").client().await.expect("KE"),
        fed.node("ZA-DFFE").client().await.expect("ZA"),
    );
    let listing = ke
        .publish(pangolin_listing())
        .await
        .expect("listing")
        .into_inner()
        .id;
    let sadc = handling(
        pb::Tlp::Amber,
        pb::Scope::Groups,
        &["SADC"],
        pb::HandlingCode::H0,
    );
    let note = ke
        .publish(note_with("seller moved to Telegram", &[], sadc))
        .await
        .expect("note")
        .into_inner()
        .id;
    let op = ke
        .publish(proposal(
            "LEOPARD-ROUTE",
            &["ZA-DFFE"],
            &[PHONE],
            &[("ZA-DFFE", "watch Beitbridge")],
            0,
        ))
        .await
        .expect("proposal")
        .into_inner()
        .id;
    za.publish(seizure_with(
        "Beitbridge border post",
        "ZA",
        &[PHONE],
        federation_wide(),
    ))
    .await
    .expect("seizure");
    for id in ["ZA-DFFE", "GB-NWCU", "KE-KWS"] {
        let mut c = fed.node(id).client().await.expect("client");
        c.sync(pb::SyncRequest {
            wait: true,
            ..Default::default()
        })
        .await
        .expect("sync");
    }
    za.publish(response(
        &op,
        pb::OperationAnswer::Accept,
        "two officers",
        "+27 11 000 0000",
    ))
    .await
    .expect("answer");
    // KE's view is complete: the alert raised, both receipts back, ZA's answer in.
    until("KE's alert, receipts and answer", DEFAULT, || {
        let (mut ke, listing, op) = (ke.clone(), listing.clone(), op.clone());
        async move {
            ke.sync(pb::SyncRequest {
                wait: true,
                ..Default::default()
            })
            .await?;
            let alerts = ke
                .list_alerts(pb::ListAlertsRequest::default())
                .await?
                .into_inner()
                .alerts;
            let held = ke
                .get(pb::GetRequest { id: listing })
                .await?
                .into_inner()
                .holders
                .len();
            let board = ke
                .get_operation(pb::OperationBoardRequest {
                    id: op,
                    ..Default::default()
                })
                .await?
                .into_inner();
            let answered = board.participants.iter().any(|p| !p.answer.is_empty());
            Ok((!alerts.is_empty() && held == 2 && answered).then_some(()))
        }
    })
    .await
    .expect("KE's view");

    Case { listing, note, op }
}

/// KE's dashboard, page by page, in Chromium.
fn kenyas_pages(fed: &Federation, p: &Path, case: &Case) {
    let Case { listing, op, .. } = case;
    let ke_web = fed.node("KE-KWS").http_addr().expect("KE http");

    let overview = browse(p, ke_web, "/", "overview");
    assert!(
        overview.contains("Records per day by kind") && overview.contains("<svg"),
        "{overview}"
    );
    // The species plot, by the accepted name the node normalised to.
    assert!(
        overview.contains("Smutsia temminckii"),
        "the species plot: {overview}"
    );
    assert!(overview.contains("authenticated"), "{overview}");

    let records = browse(p, ke_web, "/records", "records");
    for shown in [
        "Pangolin scales for sale",
        "seller moved to Telegram",
        "Beitbridge border post",
    ] {
        assert!(
            records.contains(shown),
            "{shown} missing from KE's search: {records}"
        );
    }
    let listings = browse(
        p,
        ke_web,
        "/records?kind=listing&country=KE",
        "records-filtered",
    );
    assert!(
        listings.contains("Pangolin scales") && !listings.contains("Beitbridge"),
        "{listings}"
    );

    let record = browse(p, ke_web, &format!("/records/{listing}"), "record");
    assert!(
        record.contains("TLP:GREEN") || record.contains("TLP:CLEAR"),
        "handling badge: {record}"
    );
    assert!(
        record.contains("class=\"ok\">valid</span>"),
        "signature: {record}"
    );
    assert!(
        record.contains("ZA-DFFE") && record.contains("GB-NWCU"),
        "held by: {record}"
    );
    assert!(record.contains(PHONE), "correlations: {record}");

    let alerts = browse(p, ke_web, "/alerts", "alerts");
    assert!(
        alerts.contains(PHONE) && alerts.contains("ZA-DFFE"),
        "{alerts}"
    );

    let ops = browse(p, ke_web, "/operations", "operations");
    assert!(ops.contains("LEOPARD-ROUTE"), "{ops}");
    let board = browse(p, ke_web, &format!("/operations/{op}"), "operation");
    assert!(
        board.contains("watch Beitbridge") && board.contains("two officers"),
        "{board}"
    );

    let audit = browse(p, ke_web, "/audit", "audit");
    assert!(
        audit.contains("Hash chain verified") && audit.contains("web-view"),
        "{audit}"
    );
}

/// GB is not in SADC: the note is not on its node, so not on its pages;
/// and once KE retracts it, not on KE's either.
async fn outside_the_rules(fed: &Federation, p: &Path, case: &Case) {
    let note = &case.note;
    let ke_web = fed.node("KE-KWS").http_addr().expect("KE http");
    let gb_web = fed.node("GB-NWCU").http_addr().expect("GB http");
    let mut ke = fed.node("KE-KWS").client().await.expect("KE");
    // GB is not in SADC: the note is not on its node, so not on its page.
    let gb = browse(p, gb_web, "/records", "gb-records");
    assert!(gb.contains("Pangolin scales for sale"), "{gb}");
    assert!(
        !gb.contains("seller moved to Telegram"),
        "GB shows a record outside its rules: {gb}"
    );
    let gb_note = wildnet_tests::web::get(gb_web, &format!("/records/{note}"), None).await;
    assert_eq!(gb_note.status, 404, "{}", gb_note.body);
    assert!(!gb_note.body.contains("Telegram"));

    // Retracted at KE: its body is gone from KE's pages too.
    ke.retract(pb::RetractRequest {
        id: note.clone(),
        reason: "wrong seller".into(),
    })
    .await
    .expect("retract");
    let after = browse(p, ke_web, "/records", "records-after-retraction");
    assert!(
        !after.contains("seller moved to Telegram"),
        "a retracted record is shown: {after}"
    );
    let page = wildnet_tests::web::get(ke_web, &format!("/records/{note}"), None).await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(!page.body.contains("Telegram"), "{}", page.body);
}
