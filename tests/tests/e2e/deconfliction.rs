//! Deconfliction in a four-agency federation of real node processes over
//! mutual TLS: a hit on a RED record shared with one agency reveals to an
//! outsider exactly the hit and the contact; a no-hit leaves no selector
//! value in the asked node's audit log or log; the rate limit trips; a
//! stopped peer is UNREACHABLE within the deadline; a key rotation makes
//! the askers' copies of the filter start over.

use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;
use wildnet_testbed::drafts::{handling, listing_with};
use wildnet_testbed::{FedSpec, Federation, Kind};

type Client = AgencyClient<Channel>;

async fn ask(
    c: &mut Client,
    selectors: &[&str],
    peers: &[&str],
    deadline: u32,
) -> Vec<pb::DeconflictAnswer> {
    let req = pb::DeconflictRequest {
        selectors: selectors.iter().map(|s| s.to_string()).collect(),
        peers: peers.iter().map(|s| s.to_string()).collect(),
        deadline_secs: deadline,
    };
    c.deconflict(req)
        .await
        .expect("deconflict")
        .into_inner()
        .answers
}

fn one<'a>(
    answers: &'a [pb::DeconflictAnswer],
    selector: &str,
    peer: &str,
) -> &'a pb::DeconflictAnswer {
    answers
        .iter()
        .find(|a| a.selector == selector && a.peer == peer)
        .unwrap_or_else(|| panic!("no answer for {selector} from {peer}: {answers:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hit_no_hit_without_telling_the_asked_agency() {
    let spec = FedSpec::new(&["KE-KWS", "TZ-WD", "ZA-DFFE", "GB-NWCU"]).http(0);
    let mut fed = Federation::start(&spec, Kind::Process)
        .await
        .expect("federation");
    let mut ke = fed.node("KE-KWS").client().await.expect("KE");
    let mut za = fed.node("ZA-DFFE").client().await.expect("ZA");
    let mut tz = fed.node("TZ-WD").client().await.expect("TZ");
    // Kenya holds a RED listing shared with Tanzania only.
    let red = handling(
        pb::Tlp::Red,
        pb::Scope::Agencies,
        &["TZ-WD"],
        pb::HandlingCode::H0,
    );
    let secret = ke
        .publish(listing_with(
            "rhino horn, 3 pieces",
            "telegram",
            "KE",
            &["phone:0722 111222"],
            red,
        ))
        .await
        .expect("publish")
        .into_inner()
        .id;

    // An outsider (South Africa) learns the hit and whom to call, nothing else.
    let a = ask(
        &mut za,
        &["phone:+254 722 111 222", "phone:+254 733 999 888"],
        &["KE-KWS"],
        10,
    )
    .await;
    let hit = one(&a, "phone:+254722111222", "KE-KWS");
    assert_eq!(hit.outcome, "HIT", "{hit:?}");
    assert!(
        !hit.contact.is_empty(),
        "the contact point from the manifest"
    );
    assert!(hit.reference.starts_with("KE-KWS/DX-"), "{hit:?}");
    assert!(
        hit.records.is_empty(),
        "no id of a record outside its audience"
    );
    assert!(!hit.follow_up_open);
    let miss = one(&a, "phone:+254733999888", "KE-KWS");
    assert_eq!(miss.outcome, "NO_HIT");
    let za_holds = za
        .stats(pb::StatsRequest::default())
        .await
        .expect("stats")
        .into_inner()
        .records;
    assert_eq!(za_holds, 0, "nothing of the record reached the outsider");
    // Counted by selector on both sides (`/metrics`).
    for (node, line) in [
        (
            "ZA-DFFE",
            "wildnet_deconfliction_questions_total{direction=\"asked\",peer=\"KE-KWS\"} 2\n",
        ),
        (
            "KE-KWS",
            "wildnet_deconfliction_questions_total{direction=\"answered\",peer=\"ZA-DFFE\"} 2\n",
        ),
    ] {
        let addr = fed.node(node).http_addr().expect("http");
        let m = wildnet_tests::web::get(addr, "/metrics", None).await.body;
        assert!(m.contains(line), "{node}: {m}");
    }
    // Tanzania, in the audience, gets the id.
    let t = ask(&mut tz, &["phone:+254722111222"], &["KE-KWS"], 10).await;
    assert_eq!(t[0].outcome, "HIT", "{t:?}");
    assert_eq!(t[0].records, vec![secret.clone()]);

    // The asked node saw neither value: not in its audit log, not in its
    // log. It audited the questions by count, and its own follow-ups.
    let audit = fed.node("KE-KWS").audit().await.expect("audit");
    let text: Vec<String> = audit
        .iter()
        .map(|e| format!("{} {} {}", e.actor, e.action, e.detail))
        .collect();
    assert!(
        text.iter()
            .all(|l| !l.contains("733999888") && !l.contains("733 999")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("ZA-DFFE deconflict-evaluate 2 selectors, epoch")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("deconflict-followup") && l.contains("0 of 1")),
        "{text:#?}"
    );
    let log = fed.node("KE-KWS").log_text();
    assert!(
        log.contains("agency api listening"),
        "the log is read: {log}"
    );
    assert!(
        !log.contains("733999888"),
        "the no-hit value is not in the asked node's log"
    );
    // The asker keeps the hit (its follow-up answered).
    let kept = za
        .deconflict(pb::DeconflictRequest::default())
        .await
        .expect("kept")
        .into_inner()
        .answers;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].reference, hit.reference);

    // Key rotation: a new epoch; askers' copies start over and still hit.
    let before = epoch_of(&fed, "KE-KWS").await;
    fed.restart_with("KE-KWS", |dir| {
        wildnet_node::identity::rotate_oprf_key(&dir.join(wildnet_node::layout::OPRF_KEY_FILE))
            .expect("rotate");
    })
    .await
    .expect("restart KE");
    // Until the new epoch is built whole, KE asks to come back: never a
    // wrong NO_HIT.
    let mut d = wildnet_testbed::wait::Deadline::new(
        "a HIT under KE's new key",
        std::time::Duration::from_secs(30),
    );
    loop {
        let again = ask(&mut za, &["phone:+254722111222"], &["KE-KWS"], 10).await;
        match again[0].outcome.as_str() {
            "HIT" => break,
            "UNREACHABLE" if again[0].detail.contains("being rebuilt") => {}
            _ => panic!("a wrong answer while KE rebuilds its filter: {again:?}"),
        }
        d.tick(format!("{again:?}")).await.expect("bounded wait");
    }
    let after = epoch_of(&fed, "KE-KWS").await;
    assert!(
        after > before,
        "the rotation started epoch {after} after {before}"
    );

    // The rate limit: a budget of 3 selectors, no refill.
    fed.restart_with("GB-NWCU", |dir| {
        let p = dir.join("node.toml");
        let t = std::fs::read_to_string(&p).expect("toml");
        let t = t
            .replace("peer_burst = 500", "peer_burst = 3")
            .replace("peer_per_day = 500", "peer_per_day = 0");
        assert!(
            t.contains("peer_burst = 3"),
            "the template names the bucket"
        );
        std::fs::write(&p, t).expect("write");
    })
    .await
    .expect("restart GB");
    let r = ask(
        &mut za,
        &["phone:+254722111222", "phone:+27821234567"],
        &["GB-NWCU"],
        10,
    )
    .await;
    assert!(r.iter().all(|a| a.outcome == "NO_HIT"), "{r:?}");
    let r = ask(
        &mut za,
        &["phone:+254722111222", "phone:+27821234567"],
        &["GB-NWCU"],
        10,
    )
    .await;
    assert!(r.iter().all(|a| a.outcome == "RATE_LIMITED"), "{r:?}");
    assert!(r[0].detail.contains("budget"), "{r:?}");

    // A stopped peer: UNREACHABLE, and the others still answer.
    fed.node_mut("TZ-WD").stop().await.expect("stop TZ");
    let r = ask(&mut za, &["phone:+254722111222"], &[], 2).await;
    assert_eq!(
        one(&r, "phone:+254722111222", "TZ-WD").outcome,
        "UNREACHABLE",
        "{r:?}"
    );
    assert_eq!(
        one(&r, "phone:+254722111222", "KE-KWS").outcome,
        "HIT",
        "{r:?}"
    );
    drop(ke);
    fed.stop().await.expect("stop");
}

/// The epoch in the asked node's latest evaluation audit entry.
async fn epoch_of(fed: &Federation, agency: &str) -> u64 {
    let audit = fed.node(agency).audit().await.expect("audit");
    audit
        .iter()
        .rev()
        .find(|e| e.action == "deconflict-evaluate")
        .and_then(|e| e.detail.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("an evaluation was audited")
}
