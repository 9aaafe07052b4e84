//! The demo's case, step by step: a pangolin-scales courier seen online in
//! Kenya and caught in South Africa, an ivory listing in Britain, a rhino
//! horn seizure in Vietnam; then correlation, an alert, deconfliction, an
//! operation, a retraction and the completeness check.

use anyhow::Context;
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;
use wildnet_testbed::drafts::{handling, listing_with, note_with, seizure_with};

use super::{AGENCIES, Demo, step};
use crate::output;

mod haystack;
mod joint;
mod why;
use joint::{complete, deconflict, operation, retraction, sync, wait};

type Client = AgencyClient<Channel>;

/// The courier's phone: written in Kenya's national format by Kenya.
const PHONE: &str = "phone:+254722333444";

/// One record of the case: who published it, a short name, its id.
struct Published {
    author: &'static str,
    name: &'static str,
    handling: pb::Handling,
    id: String,
}

/// Tells the whole story.
pub(super) async fn tell(demo: &mut Demo) -> anyhow::Result<()> {
    federation(demo).await?;
    let case = publish(demo).await?;
    received(demo, &case).await?;
    linked(demo, &case).await?;
    deconflict(demo).await?;
    operation(demo).await?;
    retraction(demo, &case).await?;
    complete(demo).await
}

async fn federation(demo: &Demo) -> anyhow::Result<()> {
    step(
        1,
        "Four agencies, one federation",
        "each node trusts only the secretariat's signed manifest; peers prove who they are with mutual TLS",
    )?;
    let rows = demo
        .fed
        .nodes
        .iter()
        .map(|n| {
            let group = if super::GROUP.1.contains(&n.agency.as_str()) {
                super::GROUP.0
            } else {
                ""
            };
            vec![
                n.agency.clone(),
                n.addr.map(|a| a.to_string()).unwrap_or_default(),
                group.to_string(),
                n.dir.display().to_string(),
            ]
        })
        .collect();
    output::table(
        &["agency", "federation address", "group", "agency dir"],
        rows,
    )?;
    for a in AGENCIES {
        sync(&mut demo.client(a), false).await?;
    }
    output::line("   every pair of nodes is authenticated (see `wildnet peers`)")?;
    output::line(
        "   VN-EP's own policy sends GB-NWCU nothing above TLP:GREEN ([federation.share.GB-NWCU] in vn-ep/node.toml)",
    )
}

async fn publish(demo: &mut Demo) -> anyhow::Result<Vec<Published>> {
    step(
        2,
        "Each agency publishes",
        "every record is signed by its agency and carries its handling: who may ever hold it",
    )?;
    background(demo).await?;
    let amber = pb::Tlp::Amber;
    let h0 = pb::HandlingCode::H0;
    let case: Vec<(&'static str, &'static str, pb::PublishRequest)> = vec![
        (
            "KE-KWS",
            "KE listing: pangolin scales, seller 0722 333 444",
            listing_with(
                "Pangolin scales 2kg, delivery Joburg",
                "facebook",
                "KE",
                &["phone:0722 333 444"],
                handling(pb::Tlp::Green, pb::Scope::Groups, &["AFRICA"], h0),
            ),
        ),
        (
            "KE-KWS",
            "KE note: informant's tip (local)",
            note_with(
                "the courier flies to Johannesburg on Fridays",
                &[],
                handling(amber, pb::Scope::Local, &[], h0),
            ),
        ),
        (
            "ZA-DFFE",
            "ZA seizure: 40 scales at OR Tambo, courier +254 722 333 444",
            scales(seizure_with(
                "OR Tambo airport",
                "ZA",
                &[PHONE],
                handling(amber, pb::Scope::Agencies, &["KE-KWS"], h0),
            )),
        ),
        (
            "ZA-DFFE",
            "ZA note: source protection (RED, H2)",
            note_with(
                "the courier's contact at the airport is a source",
                &[],
                handling(
                    pb::Tlp::Red,
                    pb::Scope::Agencies,
                    &["KE-KWS"],
                    pb::HandlingCode::H2,
                ),
            ),
        ),
        (
            "GB-NWCU",
            "GB listing: ivory carving, seller ivory.dealer@example.org",
            listing_with(
                "Antique ivory carving, 19th c.",
                "ebay",
                "GB",
                &["email:ivory.dealer@example.org"],
                handling(pb::Tlp::Green, pb::Scope::Federation, &[], h0),
            ),
        ),
        (
            "VN-EP",
            "VN note: buyer network in Hanoi (AMBER, H2)",
            note_with(
                "the horn buyers meet at a Hanoi pharmacy; the owner's son runs the courier",
                &[],
                handling(amber, pb::Scope::Federation, &[], pb::HandlingCode::H2),
            ),
        ),
        (
            "VN-EP",
            "VN seizure: rhino horn at Noi Bai",
            seizure_with(
                "Noi Bai airport",
                "VN",
                &["phone:+84 912 345 678"],
                handling(pb::Tlp::Green, pb::Scope::Federation, &[], h0),
            ),
        ),
    ];
    let mut out = Vec::new();
    let mut rows = Vec::new();
    for (author, name, req) in case {
        let handling = req
            .draft
            .as_ref()
            .and_then(|d| d.handling.clone())
            .unwrap_or_default();
        let id = demo
            .client(author)
            .publish(req)
            .await
            .map_err(crate::explain)?
            .into_inner()
            .id;
        rows.push(vec![
            author.to_string(),
            name.to_string(),
            describe(&handling),
            id[..12].to_string(),
        ]);
        out.push(Published {
            author,
            name,
            handling,
            id,
        });
    }
    output::table(&["author", "record", "handling", "id"], rows)?;
    Ok(out)
}

/// The seizure's catch: 40 scales of Temminck's ground pangolin, 12.5 kg.
fn scales(mut req: pb::PublishRequest) -> pb::PublishRequest {
    if let Some(pb::record_body::Payload::Seizure(z)) =
        req.draft.as_mut().and_then(|d| d.payload.as_mut())
    {
        z.species = vec![pb::Species {
            scientific_name: "Smutsia temminckii".into(),
            ..Default::default()
        }];
        (z.quantity, z.weight_grams) = (40, 12_500);
        z.concealment = "sewn into a suitcase lining".into();
    }
    req
}

/// Generated listings per agency, shared federation-wide: the haystack.
async fn background(demo: &Demo) -> anyhow::Result<()> {
    if demo.background == 0 {
        return Ok(());
    }
    for (i, a) in AGENCIES.iter().enumerate() {
        let file = demo.dir(a).join("background.csv");
        let f = std::fs::File::create(&file)
            .with_context(|| format!("cannot write {}", file.display()))?;
        let spec = crate::cmd::generate::Spec {
            count: demo.background,
            seed: demo.seed + i as u64,
            world: demo.seed,
            country: Some(a[..2].to_string()),
        };
        crate::cmd::generate::listings(f, &spec, Some("federation"))?;
        let bar = indicatif::ProgressBar::hidden();
        let s = crate::cmd::import::import_file(
            &mut demo.client(a),
            &file,
            crate::cmd::import::InputFormat::Csv,
            Default::default(),
            crate::cmd::import::MAX_ROW_BYTES,
            &bar,
        )
        .await?
        .summary;
        output::line(&format!(
            "   {a} imported {} generated listings from {}'s markets (seed {}), shared federation-wide",
            s.accepted,
            &a[..2],
            demo.seed + i as u64
        ))?;
    }
    Ok(())
}

/// A TLP as people write it: `AMBER+STRICT`.
fn tlp_name(t: pb::Tlp) -> String {
    t.as_str_name().trim_start_matches("TLP_").replace('_', "+")
}

/// Scope and TLP in words.
fn describe(h: &pb::Handling) -> String {
    let tlp = pb::Tlp::try_from(h.tlp).map(tlp_name).unwrap_or_default();
    let scope = match pb::Scope::try_from(h.scope).unwrap_or(pb::Scope::Unspecified) {
        pb::Scope::Local => "local".to_string(),
        pb::Scope::Agencies => format!("agency:{}", h.agencies.join(",")),
        pb::Scope::Groups => format!("group:{}", h.groups.join(",")),
        pb::Scope::Federation => "federation".to_string(),
        pb::Scope::Unspecified => "?".to_string(),
    };
    let code = if h.code == pb::HandlingCode::H2 as i32 {
        " H2"
    } else {
        ""
    };
    format!("TLP:{tlp} {scope}{code}")
}

async fn received(demo: &Demo, case: &[Published]) -> anyhow::Result<()> {
    step(
        3,
        "What each peer received, and what it was not given",
        "a source never puts a record on the wire to an agency outside its audience, or above its own policy for that peer; receivers check again",
    )?;
    for _ in 0..2 {
        for a in AGENCIES {
            sync(&mut demo.client(a), false).await?;
        }
    }
    let rules = why::Rules::load(demo)?;
    let mut rows = Vec::new();
    for p in case {
        let body = why::body_of(demo, p).await?;
        let mut row = vec![p.name.to_string()];
        for a in AGENCIES {
            let held = demo
                .client(a)
                .get(pb::GetRequest { id: p.id.clone() })
                .await
                .is_ok();
            row.push(match (held, a == p.author) {
                (true, true) => "author".to_string(),
                (true, false) => "holds it".to_string(),
                (false, _) => format!("no: {}", rules.why_not(p, &body, a)),
            });
        }
        rows.push(row);
    }
    let mut header = vec!["record"];
    header.extend(AGENCIES);
    output::table(&header, rows)?;
    let mut peers = Vec::new();
    for a in AGENCIES {
        let r = demo
            .client(a)
            .peers(pb::PeersRequest {})
            .await
            .map_err(crate::explain)?
            .into_inner();
        let rejected: u64 = r.peers.iter().map(|p| p.rejected).sum();
        let got: u64 = r.peers.iter().map(|p| p.received).sum();
        peers.push(format!("{a} received {got}, refused {rejected}"));
    }
    output::line(&format!("   {}", peers.join("; ")))
}

async fn linked(demo: &Demo, case: &[Published]) -> anyhow::Result<()> {
    step(
        4,
        "A cross-border link: correlation, and the alert the pull raised",
        "Kenya's `0722 333 444` was read in Kenya's numbering plan, so South Africa's +254 722 333 444 links to it",
    )?;
    let mut ke = demo.client("KE-KWS");
    let listing = &case[0].id;
    let alert = wait("the alert at KE-KWS", || {
        let mut ke = ke.clone();
        async move {
            let r = ke
                .list_alerts(pb::ListAlertsRequest::default())
                .await
                .ok()?
                .into_inner();
            r.alerts.into_iter().find(|a| a.selector == PHONE)
        }
    })
    .await?;
    output::line(&format!(
        "   alert #{} at KE-KWS: {} {} from {} holds {}, like Kenya's listing {}",
        alert.id,
        alert.author,
        alert.kind,
        alert.received_from,
        alert.selector,
        &listing[..12]
    ))?;
    let c = ke
        .correlate(pb::CorrelateRequest {
            id: listing.clone(),
            ..Default::default()
        })
        .await
        .map_err(crate::explain)?
        .into_inner();
    for s in &c.selectors {
        for r in &s.records {
            let author = r.signed.as_ref().map(author_of).unwrap_or_default();
            output::line(&format!(
                "   correlate {}: {} shares {} ({})",
                &listing[..12],
                &r.id[..12],
                s.selector,
                author
            ))?;
        }
    }
    haystack::haystack(&mut ke).await
}

fn author_of(s: &pb::SignedRecord) -> String {
    <pb::RecordBody as prost::Message>::decode(s.body.as_slice())
        .map(|b| format!("{} {}", b.author, wildnet_node::record::kind_of(&b)))
        .unwrap_or_default()
}
