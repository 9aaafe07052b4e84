//! Announce mode: a node with several peers is sent relayed records as
//! their ids and fetches only those it lacks; the author's own records come
//! in full.

use wildnet_proto::v1 as pb;
use wildnet_testbed::{FedSpec, Federation, Kind, drafts};

const AGENCIES: [&str; 3] = ["KE-KWS", "ZA-DFFE", "GB-NWCU"];

async fn peer(fed: &Federation, at: &str, of: &str) -> pb::PeerState {
    let mut c = fed.node(at).client().await.expect("client");
    let r = c.peers(pb::PeersRequest {}).await.expect("peers");
    let found = r.into_inner().peers.into_iter().find(|p| p.agency == of);
    found.unwrap_or_else(|| panic!("{at} has no peer {of}"))
}

/// KE sends GB nothing above TLP:CLEAR, so GB gets KE's GREEN records only
/// through ZA: as announcements, each fetched once; ZA, which has two
/// peers too, got them from their author in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayed_records_are_announced_and_fetched_once() {
    let spec = FedSpec::new(&AGENCIES).share_max_tlp("KE-KWS", "GB-NWCU", "CLEAR");
    let fed = Federation::start(&spec, Kind::InProcess)
        .await
        .expect("start the federation");
    fed.wait_peer_state("GB-NWCU", &["KE-KWS", "ZA-DFFE"], "authenticated")
        .await
        .expect("links");
    let mut ke = fed.node("KE-KWS").client().await.expect("client");
    const N: u64 = 6;
    for k in 0..N {
        let handling = pb::Handling {
            tlp: pb::Tlp::Green as i32,
            scope: pb::Scope::Federation as i32,
            ..Default::default()
        };
        let draft = drafts::note(&format!("relayed {k}"), "a seller moved", Some(handling));
        ke.publish(draft).await.expect("publish");
    }
    crate::sync::wait_until("GB to hold KE's records", || async {
        let mut gb = fed.node("GB-NWCU").client().await.expect("client");
        let s = gb.stats(pb::StatsRequest::default()).await.expect("stats");
        s.into_inner().records >= N
    })
    .await;
    let via_za = peer(&fed, "GB-NWCU", "ZA-DFFE").await;
    assert_eq!(
        (via_za.announced, via_za.fetched, via_za.received),
        (N, N, N),
        "GB: every record announced by ZA, fetched once, stored"
    );
    assert_eq!(via_za.duplicates + via_za.rejected, 0);
    let from_ke = peer(&fed, "GB-NWCU", "KE-KWS").await;
    assert_eq!(
        from_ke.received + from_ke.duplicates,
        0,
        "KE sent GB nothing"
    );
    // ZA put each on the wire to GB once, by Fetch.
    assert_eq!(peer(&fed, "ZA-DFFE", "GB-NWCU").await.sent, N);
    let za_from_ke = peer(&fed, "ZA-DFFE", "KE-KWS").await;
    assert_eq!(
        (za_from_ke.received, za_from_ke.announced),
        (N, 0),
        "the author's own records come in full"
    );
    fed.stop().await.expect("stop");
}
