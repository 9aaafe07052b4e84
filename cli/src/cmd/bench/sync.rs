//! Sync: ZA-DFFE pulls everything from KE-KWS cold, GB-NWCU scans ZA's
//! feed, and live propagation KE → ZA → GB.

use std::time::{Duration, Instant};

use anyhow::bail;
use indicatif::ProgressBar;
use wildnet_proto::v1 as pb;
use wildnet_testbed::Node;

use super::limits::Limits;
use super::report::{Report, ms, p50_p99};
use super::{GB, KE, Plan, ZA, feed_head, note, wait_caught_up};

pub(super) async fn measure(
    plan: &Plan,
    [ke, za, gb]: [&mut Node; 3],
    stored: u64,
    bar: &ProgressBar,
    r: &mut Report,
    limits: &Limits,
) -> anyhow::Result<()> {
    let mut kec = ke.client().await?;
    let ke_head = feed_head(&mut kec).await?;

    // Cold sync KE → ZA.
    bar.set_message(format!("cold sync: {ZA} pulls {stored} records from {KE}"));
    let t = Instant::now();
    za.start_process()?;
    let mut zac = za.client().await?;
    wait_caught_up(&mut zac, KE, ke_head, bar, "cold sync").await?;
    let took = t.elapsed();
    let held = zac
        .stats(pb::StatsRequest::default())
        .await?
        .into_inner()
        .records;
    if held < stored {
        bail!("cold sync ended with {held} of {stored} records at {ZA}");
    }
    let rate = held as f64 / took.as_secs_f64();
    r.add("sync", "cold pull (verified, stored, indexed)", rate, "/s")
        .vs("Ed25519 batch verify, 1 core", limits.batch1)
        .target(">= 25,000/s, >= 40% of 1-core batch verify");

    // GB catches up with ZA (nothing of it is GB's: positions only).
    bar.set_message(format!("{GB} scans {ZA}'s feed"));
    let za_head = feed_head(&mut zac).await?;
    gb.start_process()?;
    let mut gbc = gb.client().await?;
    let scan = wait_caught_up(&mut gbc, ZA, za_head, bar, "feed scan").await?;
    r.add(
        "sync",
        "feed scan with nothing for the peer (positions only)",
        za_head as f64 / scan.as_secs_f64(),
        "/s",
    );

    live(plan, [&mut kec, &mut zac, &mut gbc], bar, r).await
}

type Client = wildnet_proto::v1::agency_client::AgencyClient<tonic::transport::Channel>;

/// Live propagation KE → ZA → GB: one hop and two hops, per record.
async fn live(
    plan: &Plan,
    [kec, zac, gbc]: [&mut Client; 3],
    bar: &ProgressBar,
    r: &mut Report,
) -> anyhow::Result<()> {
    bar.set_message("live propagation");
    let (mut one_hop, mut two_hops) = (Vec::new(), Vec::new());
    for i in 0..plan.live_samples {
        let t = Instant::now();
        let id = kec
            .publish(note(1_000_000 + i, "federation")?)
            .await?
            .into_inner()
            .id;
        let mut at_za = None;
        loop {
            if at_za.is_none() && zac.get(pb::GetRequest { id: id.clone() }).await.is_ok() {
                at_za = Some(t.elapsed());
            }
            if at_za.is_some() && gbc.get(pb::GetRequest { id: id.clone() }).await.is_ok() {
                two_hops.push(ms(t.elapsed()));
                break;
            }
            if t.elapsed() > Duration::from_secs(30) {
                bail!("live propagation: record {id} not at {GB} after 30 s");
            }
            tokio::task::yield_now().await;
        }
        one_hop.push(at_za.map_or(0.0, ms));
    }
    let (p50, p99) = p50_p99(one_hop);
    r.add("sync", format!("live {KE} -> {ZA} p50"), p50, "ms");
    r.add("sync", format!("live {KE} -> {ZA} p99"), p99, "ms")
        .target("< 50 ms per hop");
    let (p50, p99) = p50_p99(two_hops);
    r.add("sync", format!("live {KE} -> {ZA} -> {GB} p50"), p50, "ms");
    r.add("sync", format!("live {KE} -> {ZA} -> {GB} p99"), p99, "ms")
        .target("< 100 ms (2 hops)");

    Ok(())
}
