//! Correlation across three agencies' records, on real nodes over mutual
//! TLS: a seller's phone written in national format in Kenya links to a
//! seizure in Tanzania; a value shared by more records than the limit is
//! over-correlating; a warninglisted address links nothing.

use std::time::Duration;

use wildnet_proto::v1 as pb;
use wildnet_testbed::drafts::{federation_wide, listing_with, note_with, seizure_with};
use wildnet_testbed::wait;
use wildnet_tests::fed::federation;

async fn publish(
    c: &mut pb::agency_client::AgencyClient<tonic::transport::Channel>,
    d: pb::PublishRequest,
) -> String {
    c.publish(d).await.expect("publish").into_inner().id
}

fn correlate_id(id: &str, all: bool) -> pb::CorrelateRequest {
    pb::CorrelateRequest {
        id: id.into(),
        all,
        ..Default::default()
    }
}

fn linked<'a>(r: &'a pb::CorrelateResponse, selector: &str) -> &'a pb::SelectorLinks {
    r.selectors
        .iter()
        .find(|s| s.selector == selector)
        .unwrap_or_else(|| panic!("no {selector} in {:?}", r.selectors))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_three_agencies_correlate_by_their_selectors() {
    let fed = federation(&["KE-KWS", "TZ-WD", "ZA-DFFE"], &[], None).await;
    let mut ke = fed.node("KE-KWS").client().await.expect("KE");
    let mut tz = fed.node("TZ-WD").client().await.expect("TZ");
    let mut za = fed.node("ZA-DFFE").client().await.expect("ZA");
    let listing = publish(
        &mut ke,
        listing_with(
            "pangolin scales",
            "jiji",
            "KE",
            &[
                "phone:0712 345678",
                "email:noreply@jiji.co.ke",
                "phone:+27 82 123 4567",
            ],
            federation_wide(),
        ),
    )
    .await;
    let seizure = publish(
        &mut tz,
        seizure_with(
            "Namanga border post",
            "TZ",
            &[
                "phone:+254 712 345 678",
                "email:NoReply@jiji.co.ke",
                "plate:KE/KDA 123A",
            ],
            federation_wide(),
        ),
    )
    .await;
    // 20 notes in South Africa name one number: with the listing, 21
    // records hold it, over the default limit of 20.
    for n in 0..20 {
        publish(
            &mut za,
            note_with(
                &format!("courier hotline {n}"),
                &["phone:082 123 4567"],
                federation_wide(),
            ),
        )
        .await;
    }
    let clients = [ke.clone(), tz.clone(), za.clone()];
    wait::converged(&clients, 22, Duration::from_secs(30), |_| {})
        .await
        .expect("synced");

    let r = ke
        .correlate(correlate_id(&listing[..12], false))
        .await
        .expect("correlate")
        .into_inner();
    assert_eq!(r.id, listing);
    assert_eq!(r.correlation_limit, 20);
    let phone = linked(&r, "phone:+254712345678");
    assert_eq!(phone.holders, 2, "the listing and the seizure");
    assert_eq!(phone.suppressed, "");
    assert_eq!(phone.records.len(), 1);
    assert_eq!(
        phone.records[0].id, seizure,
        "national format in KE = international in TZ"
    );
    let noreply = linked(&r, "email:noreply@jiji.co.ke");
    assert!(
        noreply.suppressed.starts_with("warninglist: "),
        "{noreply:?}"
    );
    assert!(
        noreply.records.is_empty(),
        "a warninglisted value links nothing"
    );
    let hotline = linked(&r, "phone:+27821234567");
    assert_eq!(hotline.suppressed, "over-correlating");
    assert_eq!(hotline.holders, 21);
    assert!(hotline.records.is_empty());

    // Asked for, the suppressed values list their records.
    let all = ke
        .correlate(correlate_id(&listing, true))
        .await
        .expect("all")
        .into_inner();
    assert_eq!(linked(&all, "phone:+27821234567").records.len(), 20);
    assert_eq!(
        linked(&all, "email:noreply@jiji.co.ke").records[0].id,
        seizure
    );

    // `get` counts the records linked by values that are not suppressed.
    let got = ke
        .get(pb::GetRequest {
            id: listing.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.correlations, 1);

    // One value, typed as an analyst would, on the Tanzanian node.
    let one = tz
        .correlate(pb::CorrelateRequest {
            selector: "phone:+254 712 345678".into(),
            ..Default::default()
        })
        .await
        .expect("by value")
        .into_inner();
    let ids: Vec<&str> = one.selectors[0]
        .records
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&listing.as_str()) && ids.contains(&seizure.as_str()));

    // The most-connected values: the hotline first, marked.
    let top = za
        .correlate(pb::CorrelateRequest {
            top: true,
            limit: 3,
            ..Default::default()
        })
        .await
        .expect("top")
        .into_inner();
    assert_eq!(top.top[0].selector, "phone:+27821234567");
    assert_eq!(top.top[0].entries, 21);
    assert_eq!(top.top[0].suppressed, "over-correlating");
    assert!(top.top.len() <= 3);

    // Species, country and platform never correlate: two listings that
    // share only those link nothing.
    let a = publish(
        &mut ke,
        listing_with("scales a", "jiji", "KE", &[], federation_wide()),
    )
    .await;
    let r = ke
        .correlate(correlate_id(&a, true))
        .await
        .expect("no selectors")
        .into_inner();
    assert!(r.selectors.is_empty(), "{:?}", r.selectors);
    let got = ke
        .get(pb::GetRequest { id: a })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.correlations, 0);
    fed.stop().await.expect("stop");
}
