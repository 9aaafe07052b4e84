//! Alerts on real nodes over mutual TLS: raised on a local publish and on
//! a pull when a record links to another agency's record and one of the
//! two is the node's own; raised for a watched value; never for values
//! that link nothing; once per link; streamed to subscribers.

use std::time::Duration;

use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;
use wildnet_testbed::drafts::{federation_wide, listing_with, note_with, seizure_with};
use wildnet_testbed::wait::{self, Deadline};
use wildnet_tests::fed::federation;

type Client = AgencyClient<Channel>;

async fn publish(c: &mut Client, d: pb::PublishRequest) -> String {
    c.publish(d).await.expect("publish").into_inner().id
}

async fn alerts(c: &mut Client, unacked: bool) -> Vec<pb::Alert> {
    let req = pb::ListAlertsRequest {
        unacked,
        ..Default::default()
    };
    c.list_alerts(req)
        .await
        .expect("alerts")
        .into_inner()
        .alerts
}

/// Until the node has at least `n` alerts.
async fn wait_alerts(c: &mut Client, n: usize) -> Vec<pb::Alert> {
    let mut d = Deadline::new(format!("{n} alerts"), Duration::from_secs(30));
    loop {
        let a = alerts(c, false).await;
        if a.len() >= n {
            return a;
        }
        d.tick(format!("{} alerts", a.len()))
            .await
            .expect("alerts in time");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_on_publish_on_pull_and_for_watched_values() {
    let fed = federation(&["KE-KWS", "TZ-WD", "ZA-DFFE"], &[], None).await;
    let mut ke = fed.node("KE-KWS").client().await.expect("KE");
    let mut tz = fed.node("TZ-WD").client().await.expect("TZ");
    let mut za = fed.node("ZA-DFFE").client().await.expect("ZA");
    let clients = [ke.clone(), tz.clone(), za.clone()];
    let mut live = ke
        .subscribe_alerts(pb::SubscribeAlertsRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    za.watch_add(pb::WatchRequest {
        selector: "handle:telegram:@IvoryKing".into(),
        note: "op TUSK target".into(),
    })
    .await
    .expect("watch");

    let listing = publish(
        &mut ke,
        listing_with(
            "ivory bangles",
            "jiji",
            "KE",
            &["phone:0712 345678", "email:noreply@jiji.co.ke"],
            federation_wide(),
        ),
    )
    .await;
    wait::converged(&clients, 1, Duration::from_secs(30), |_| {})
        .await
        .expect("L everywhere");
    // Tanzania publishes a seizure naming the same phone: its own publish
    // links to Kenya's listing, and Kenya's pull links back to its own.
    let draft = seizure_with(
        "Namanga",
        "TZ",
        &["phone:+254712345678", "email:noreply@jiji.co.ke"],
        federation_wide(),
    );
    let seizure = publish(&mut tz, draft.clone()).await;
    let again = tz.publish(draft).await.expect("again").into_inner();
    assert!(
        again.duplicate,
        "an identical draft is a duplicate and raises nothing"
    );

    let on_tz = wait_alerts(&mut tz, 1).await;
    assert_eq!(
        on_tz.len(),
        1,
        "one alert: the warninglisted e-mail links nothing"
    );
    let a = &on_tz[0];
    assert_eq!(
        (a.record.as_str(), a.selector.as_str(), a.reason.as_str()),
        (seizure.as_str(), "phone:+254712345678", "shared")
    );
    assert_eq!(a.received_from, "", "raised by a local publish");
    assert_eq!(a.matches.len(), 1);
    assert_eq!(
        (a.matches[0].id.as_str(), a.matches[0].author.as_str()),
        (listing.as_str(), "KE-KWS")
    );

    let on_ke = wait_alerts(&mut ke, 1).await;
    let a = &on_ke[0];
    assert_eq!(
        (a.record.as_str(), a.author.as_str(), a.kind.as_str()),
        (seizure.as_str(), "TZ-WD", "seizure")
    );
    assert_eq!(a.received_from, "TZ-WD", "raised by the pull");
    assert_eq!(a.matches[0].id, listing);
    let streamed = tokio::time::timeout(Duration::from_secs(30), live.message())
        .await
        .expect("streamed in time")
        .expect("stream")
        .expect("an alert");
    assert_eq!(streamed.id, a.id, "SubscribeAlerts streams it");

    // A note naming the watched handle: South Africa, which holds both
    // records above but authored neither, is alerted only for its watch.
    let note = publish(
        &mut ke,
        note_with("buyer contact", &["handle:tg:ivoryking"], federation_wide()),
    )
    .await;
    let on_za = wait_alerts(&mut za, 1).await;
    assert_eq!(on_za.len(), 1, "{on_za:?}");
    assert_eq!(
        (on_za[0].record.as_str(), on_za[0].reason.as_str()),
        (note.as_str(), "watchlist")
    );
    assert_eq!(on_za[0].selector, "handle:telegram:ivoryking");
    assert_eq!(on_za[0].watch_note, "op TUSK target");

    // Acknowledged alerts leave the unacked list, with who and why.
    let acked = ke
        .ack_alert(pb::AckAlertRequest {
            id: on_ke[0].id,
            note: "called TZ-WD".into(),
        })
        .await
        .expect("ack")
        .into_inner();
    assert!(acked.acked && acked.acked_by.starts_with("uid:") && acked.ack_note == "called TZ-WD");
    assert!(alerts(&mut ke, true).await.is_empty());
    assert_eq!(alerts(&mut ke, false).await.len(), 1, "still listed, once");
    let e = ke
        .ack_alert(pb::AckAlertRequest {
            id: 999_999,
            note: String::new(),
        })
        .await
        .expect_err("no such alert");
    assert_eq!(e.code(), tonic::Code::NotFound, "{e}");
    fed.stop().await.expect("stop");
}
