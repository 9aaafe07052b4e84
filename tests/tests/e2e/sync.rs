//! Selective sync: every record reaches exactly its audience — no leak,
//! including through relay, and no miss — in a line and in a star.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use wildnet_proto::v1 as pb;
use wildnet_testbed::wait::Deadline;
use wildnet_tests::fed::{Federation, federation};

const AGENCIES: [&str; 5] = ["KE-KWS", "ZA-DFFE", "GB-NWCU", "VN-EP", "TH-DNP"];
/// The one group: two agencies at the end of the line.
const GROUP: (&str, &[&str]) = ("MEKONG", &["VN-EP", "TH-DNP"]);

#[derive(Clone)]
struct Published {
    id: String,
    author: String,
    audience: BTreeSet<String>,
    h2: bool,
}

pub(crate) use wildnet_testbed::drafts::matrix as draft;

/// Publishes every scope × TLP × handling-code combination from every agency.
async fn publish_matrix(fed: &Federation) -> Vec<Published> {
    let tlps = [
        pb::Tlp::Clear,
        pb::Tlp::Green,
        pb::Tlp::Amber,
        pb::Tlp::AmberStrict,
        pb::Tlp::Red,
    ];
    let codes = [
        pb::HandlingCode::H0,
        pb::HandlingCode::H1,
        pb::HandlingCode::H2,
        pb::HandlingCode::H3,
    ];
    let mut out = Vec::new();
    let mut n = 0;
    for author in AGENCIES {
        let mut c = fed.node(author).client().await.expect("client");
        let other = AGENCIES[(AGENCIES.iter().position(|a| *a == author).unwrap_or(0) + 2) % 5];
        let scopes: Vec<(pb::Scope, Vec<&str>)> = vec![
            (pb::Scope::Local, vec![]),
            (pb::Scope::Agencies, vec![other]),
            (pb::Scope::Groups, vec![GROUP.0]),
            (pb::Scope::Groups, vec!["NO-SUCH-GROUP"]),
            (pb::Scope::Federation, vec![]),
        ];
        for (scope, list) in &scopes {
            for tlp in tlps {
                if tlp == pb::Tlp::Red && *scope != pb::Scope::Agencies {
                    continue;
                }
                for code in codes {
                    n += 1;
                    let id = c
                        .publish(draft(n, tlp, *scope, list, code))
                        .await
                        .unwrap_or_else(|e| {
                            panic!("{author} publish {scope:?} {tlp:?} {code:?}: {e}")
                        })
                        .into_inner()
                        .id;
                    let mut audience: BTreeSet<String> = BTreeSet::from([author.to_string()]);
                    match scope {
                        pb::Scope::Agencies => audience.extend(list.iter().map(|s| s.to_string())),
                        pb::Scope::Groups if list[0] == GROUP.0 => {
                            audience.extend(GROUP.1.iter().map(|s| s.to_string()))
                        }
                        pb::Scope::Federation => {
                            audience.extend(AGENCIES.iter().map(|s| s.to_string()))
                        }
                        _ => {}
                    }
                    out.push(Published {
                        id,
                        author: author.to_string(),
                        audience,
                        h2: code == pb::HandlingCode::H2,
                    });
                }
            }
        }
    }
    out
}

/// Who should hold each record: its audience members reachable from the
/// author through audience members (relay), H2 only over one direct link.
fn expected(records: &[Published], links: &[(&str, &str)]) -> HashMap<String, BTreeSet<String>> {
    let neighbours = |a: &str| -> Vec<String> {
        links
            .iter()
            .filter_map(|(x, y)| {
                if *x == a {
                    Some(y.to_string())
                } else if *y == a {
                    Some(x.to_string())
                } else {
                    None
                }
            })
            .collect()
    };
    let mut out: HashMap<String, BTreeSet<String>> = AGENCIES
        .iter()
        .map(|a| (a.to_string(), BTreeSet::new()))
        .collect();
    for r in records {
        let mut reached = BTreeSet::from([r.author.clone()]);
        let mut frontier = vec![r.author.clone()];
        while let Some(at) = frontier.pop() {
            if r.h2 && at != r.author {
                continue;
            }
            for n in neighbours(&at) {
                if r.audience.contains(&n) && reached.insert(n.clone()) {
                    frontier.push(n);
                }
            }
        }
        for a in reached {
            out.entry(a).or_default().insert(r.id.clone());
        }
    }
    out
}

async fn holdings(fed: &Federation, agency: &str) -> BTreeSet<String> {
    held_ids(&mut fed.node(agency).client().await.expect("client")).await
}

/// Every record id a node holds (all versions), through paginated queries.
pub(crate) async fn held_ids(
    c: &mut wildnet_proto::v1::agency_client::AgencyClient<tonic::transport::Channel>,
) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut token = String::new();
    loop {
        let r = c
            .query(pb::QueryRequest {
                limit: 1000,
                page_token: token.clone(),
                history: true,
                ..Default::default()
            })
            .await
            .expect("query")
            .into_inner();
        ids.extend(r.records.into_iter().map(|s| s.id));
        if r.next_page_token.is_empty() {
            return ids;
        }
        token = r.next_page_token;
    }
}

async fn assert_exact(fed: &Federation, want: &HashMap<String, BTreeSet<String>>, what: &str) {
    for agency in AGENCIES {
        let mut d = Deadline::new(
            format!("{what}: {agency}'s records"),
            Duration::from_secs(60),
        );
        loop {
            let _ = fed
                .node(agency)
                .client()
                .await
                .expect("client")
                .sync(pb::SyncRequest {
                    peer: String::new(),
                    wait: true,
                    timeout_secs: 10,
                    verify: false,
                })
                .await;
            let have = holdings(fed, agency).await;
            let expect = &want[agency];
            if &have == expect {
                break;
            }
            let leaked: Vec<&String> = have.difference(expect).collect();
            let missed: Vec<&String> = expect.difference(&have).collect();
            assert!(
                leaked.is_empty(),
                "{what}: {agency} holds {} record(s) outside its audience, e.g. {:?}",
                leaked.len(),
                leaked.first()
            );
            let seen = format!(
                "{agency} misses {} record(s) of {}, e.g. {:?}; peers: {:?}",
                missed.len(),
                expect.len(),
                missed.first(),
                fed.node(agency).peers().await.expect("peers").peers
            );
            d.tick(seen).await.expect("bounded wait");
        }
    }
}

async fn matrix(links: &[(&str, &str)], what: &str) {
    let fed = federation(&AGENCIES, &[GROUP], Some(links)).await;
    let records = publish_matrix(&fed).await;
    assert_eq!(
        records.len(),
        5 * (4 * 4 * 4 + 5 * 4),
        "every combination published"
    );
    let want = expected(&records, links);
    // The model is not vacuous: records travel, and H2 ones only one hop.
    let held: usize = want.values().map(BTreeSet::len).sum();
    assert!(
        held > records.len() + records.len() / 2,
        "{what}: expected holdings {held} look wrong"
    );
    // `far` has one link, to `near`: H2 records of anyone else never reach it.
    let (far, near) = if links[0].0 == "KE-KWS" {
        ("TH-DNP", "VN-EP")
    } else {
        ("KE-KWS", "ZA-DFFE")
    };
    let relayed_h2 = records
        .iter()
        .filter(|r| r.h2 && r.author != far && r.author != near && want[far].contains(&r.id))
        .count();
    assert_eq!(relayed_h2, 0, "{what}: the model relays H2");
    assert_exact(&fed, &want, what).await;
    // Nothing was rejected on the way: senders only send what may be held.
    for a in AGENCIES {
        for p in fed.node(a).peers().await.expect("peers").peers {
            assert_eq!(
                p.rejected, 0,
                "{what}: {a} rejected from {}: {}",
                p.agency, p.last_rejection
            );
        }
    }
    fed.stop().await.expect("stop");
}

/// A line KE—ZA—GB—VN—TH: records relay hop by hop within their audience.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leak_miss_matrix_line() {
    let links = [
        ("KE-KWS", "ZA-DFFE"),
        ("ZA-DFFE", "GB-NWCU"),
        ("GB-NWCU", "VN-EP"),
        ("VN-EP", "TH-DNP"),
    ];
    matrix(&links, "line").await;
}

/// A star around ZA-DFFE: everything between the others goes through the hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leak_miss_matrix_star() {
    let links = [
        ("ZA-DFFE", "KE-KWS"),
        ("ZA-DFFE", "GB-NWCU"),
        ("ZA-DFFE", "VN-EP"),
        ("ZA-DFFE", "TH-DNP"),
    ];
    matrix(&links, "star").await;
}

/// Publish at one node, queryable at a direct peer and two hops away,
/// without any explicit sync (subscribe keeps the streams live).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_propagation_and_relay() {
    let fed = federation(
        &["KE-KWS", "ZA-DFFE", "GB-NWCU"],
        &[],
        Some(&[("KE-KWS", "ZA-DFFE"), ("ZA-DFFE", "GB-NWCU")]),
    )
    .await;
    fed.wait_peer_state("ZA-DFFE", &["KE-KWS", "GB-NWCU"], "authenticated")
        .await
        .expect("wait");
    let id = fed
        .node("KE-KWS")
        .client()
        .await
        .expect("client")
        .publish(draft(
            1,
            pb::Tlp::Green,
            pb::Scope::Federation,
            &[],
            pb::HandlingCode::H0,
        ))
        .await
        .expect("publish")
        .into_inner()
        .id;
    for at in ["ZA-DFFE", "GB-NWCU"] {
        let mut d = Deadline::new(format!("{id} at {at}"), Duration::from_secs(20));
        let mut c = fed.node(at).client().await.expect("client");
        loop {
            if let Ok(r) = c.get(pb::GetRequest { id: id.clone() }).await {
                assert_eq!(r.into_inner().record.expect("record").signature, "valid");
                break;
            }
            d.tick("not there").await.expect("bounded wait");
        }
    }
    fed.stop().await.expect("stop");
}

pub(crate) async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let done = wildnet_testbed::wait::until(what, wildnet_testbed::wait::DEFAULT, || {
        let f = check();
        async move { Ok(f.await.then_some(())) }
    });
    done.await.unwrap_or_else(|e| panic!("{e}"));
}

/// A retraction reaches a node two hops away, which deletes the target and
/// keeps a tombstone; a node that was offline catches up from its cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retraction_two_hops_and_offline_catch_up() {
    let mut fed = federation(
        &["KE-KWS", "ZA-DFFE", "GB-NWCU"],
        &[],
        Some(&[("KE-KWS", "ZA-DFFE"), ("ZA-DFFE", "GB-NWCU")]),
    )
    .await;
    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    let id = ke
        .publish(draft(
            1,
            pb::Tlp::Green,
            pb::Scope::Federation,
            &[],
            pb::HandlingCode::H0,
        ))
        .await
        .expect("publish")
        .into_inner()
        .id;
    let gb = fed.node("GB-NWCU").client().await.expect("client");
    wait_until("the record at GB-NWCU", || {
        let (mut c, id) = (gb.clone(), id.clone());
        async move { c.get(pb::GetRequest { id }).await.is_ok() }
    })
    .await;
    // Signed receipts reach the author: ZA's directly, GB's relayed by ZA.
    wait_until("receipts from ZA and GB at KE", || {
        let (mut c, id) = (ke.clone(), id.clone());
        async move {
            let holders: Vec<String> = c
                .get(pb::GetRequest { id })
                .await
                .map(|r| {
                    r.into_inner()
                        .holders
                        .into_iter()
                        .map(|h| h.agency)
                        .collect()
                })
                .unwrap_or_default();
            holders == ["GB-NWCU", "ZA-DFFE"]
        }
    })
    .await;
    let retraction = ke
        .retract(pb::RetractRequest {
            id: id.clone(),
            reason: "wrong seller".into(),
        })
        .await
        .expect("retract")
        .into_inner()
        .id;
    wait_until("the retraction at GB-NWCU", || {
        let (mut c, id) = (gb.clone(), id.clone());
        async move {
            matches!(c.get(pb::GetRequest { id }).await, Err(e) if e.message().contains("retracted"))
        }
    })
    .await;
    // Both confirm the deletion with a receipt for the retraction record.
    wait_until("deletion confirmed at KE", || {
        let (mut c, id) = (ke.clone(), id.clone());
        async move {
            matches!(c.get(pb::GetRequest { id }).await,
                Err(e) if e.message().contains("deletion confirmed by GB-NWCU, ZA-DFFE"))
        }
    })
    .await;
    let confirmed = ke
        .get(pb::GetRequest {
            id: retraction.clone(),
        })
        .await
        .expect("the retraction record")
        .into_inner()
        .holders;
    assert_eq!(confirmed.len(), 2, "{confirmed:?}");
    let mut g = gb.clone();
    assert_eq!(
        g.stats(pb::StatsRequest::default())
            .await
            .expect("stats")
            .into_inner()
            .tombstones,
        1
    );

    // GB goes offline; KE publishes; GB comes back and catches up.
    let idx = fed
        .nodes
        .iter()
        .position(|n| n.agency == "GB-NWCU")
        .expect("gb");
    fed.nodes[idx].stop().await.expect("stop");
    for n in 0..50 {
        ke.publish(draft(
            100 + n,
            pb::Tlp::Amber,
            pb::Scope::Federation,
            &[],
            pb::HandlingCode::H1,
        ))
        .await
        .expect("publish while GB is offline");
    }
    fed.nodes[idx]
        .start_in_process(None)
        .await
        .expect("start again");
    // `sync --wait` catches up with direct peers: ZA (the relay) first.
    fed.node("ZA-DFFE")
        .client()
        .await
        .expect("client")
        .sync(pb::SyncRequest {
            peer: "KE-KWS".into(),
            wait: true,
            timeout_secs: 30,
            verify: false,
        })
        .await
        .expect("ZA sync --wait");
    let mut gb = fed.node("GB-NWCU").client().await.expect("client");
    gb.sync(pb::SyncRequest {
        peer: String::new(),
        wait: true,
        timeout_secs: 30,
        verify: false,
    })
    .await
    .expect("sync --wait");
    let held = gb
        .stats(pb::StatsRequest::default())
        .await
        .expect("stats")
        .into_inner();
    // 50 new records plus the retraction record itself; the retracted one is gone.
    assert_eq!(held.records, 51, "{held:?}");
    fed.stop().await.expect("stop");
}
