//! The demo's joint work: deconfliction, an operation, a retraction and
//! the completeness check; and the waits every step uses.

use std::time::Duration;

use anyhow::bail;
use wildnet_proto::v1 as pb;
use wildnet_testbed::drafts;
use wildnet_testbed::wait::Deadline;

use super::{Client, PHONE, Published};
use crate::cmd::demo::{AGENCIES, Demo, step};
use crate::output;

pub(super) async fn deconflict(demo: &Demo) -> anyhow::Result<()> {
    step(
        5,
        "Deconfliction: Vietnam asks who holds the courier's number",
        "a hit names only whom to call; a no-hit tells the asked agencies nothing, not even the value",
    )?;
    let vn = demo.client("VN-EP");
    let unknown = "phone:+84 912 000 111";
    let answers = wait("hits from KE-KWS and ZA-DFFE", || {
        let mut vn = vn.clone();
        async move {
            let req = pb::DeconflictRequest {
                selectors: vec![PHONE.into(), unknown.into()],
                ..Default::default()
            };
            let a = vn.deconflict(req).await.ok()?.into_inner().answers;
            let hits = a.iter().filter(|x| x.outcome == "HIT").count();
            (hits == 2).then_some(a)
        }
    })
    .await?;
    let rows = answers
        .iter()
        .map(|a| {
            let what = if a.outcome == "HIT" {
                format!(
                    "call {} (ref {}); records VN may hold: {}",
                    a.contact,
                    a.reference,
                    a.records.len()
                )
            } else {
                a.detail.clone()
            };
            vec![a.selector.clone(), a.peer.clone(), a.outcome.clone(), what]
        })
        .collect();
    output::table(&["selector", "asked", "answer", "what VN learns"], rows)
}

pub(super) async fn operation(demo: &Demo) -> anyhow::Result<()> {
    step(
        6,
        "A joint operation: Kenya proposes, three agencies answer",
        "operation records reach only its participants; each answer is signed; the board shows them all",
    )?;
    let mut ke = demo.client("KE-KWS");
    let tasks = [("ZA-DFFE", "meet the Friday flight at OR Tambo")];
    let req = drafts::proposal(
        "THUNDERBIRD",
        &["ZA-DFFE", "GB-NWCU", "VN-EP"],
        &[PHONE],
        &tasks,
        0,
    );
    let op = ke
        .publish(req)
        .await
        .map_err(crate::explain)?
        .into_inner()
        .id;
    let answers = [
        (
            "ZA-DFFE",
            pb::OperationAnswer::Accept,
            "airport unit, 6 officers",
            "DFFE duty desk",
        ),
        (
            "GB-NWCU",
            pb::OperationAnswer::Tentative,
            "two analysts, if cleared",
            "NWCU intel desk",
        ),
        (
            "VN-EP",
            pb::OperationAnswer::Decline,
            "no officers free in the window",
            "EP liaison",
        ),
    ];
    for (a, answer, commit, contact) in answers {
        let mut c = demo.client(a);
        sync(&mut c, false).await?;
        let r = drafts::response(&op, answer, commit, contact);
        c.publish(r).await.map_err(crate::explain)?;
    }
    sync(&mut ke, false).await?;
    let req = pb::OperationBoardRequest {
        id: op,
        deconflict: true,
        deadline_secs: 5,
    };
    let b = ke
        .get_operation(req)
        .await
        .map_err(crate::explain)?
        .into_inner();
    output::line(&format!(
        "   {} — lead {} — {}",
        b.code_name, b.lead, b.status
    ))?;
    let rows = b
        .participants
        .iter()
        .map(|p| {
            vec![
                p.agency.clone(),
                p.answer.clone(),
                p.commitments.clone(),
                p.contact.clone(),
            ]
        })
        .collect();
    output::table(&["participant", "answer", "commitments", "contact"], rows)?;
    for t in &b.targets {
        let who: Vec<&str> = t.held_elsewhere.iter().map(|h| h.peer.as_str()).collect();
        output::line(&format!(
            "   target {}: held elsewhere by {}",
            t.target,
            who.join(", ")
        ))?;
    }
    Ok(())
}

pub(super) async fn retraction(demo: &Demo, case: &[Published]) -> anyhow::Result<()> {
    step(
        7,
        "A retraction reaches every holder",
        "only the author retracts; each holder deletes the record and signs a receipt back to the author",
    )?;
    let Some(p) = case.iter().find(|p| p.author == "GB-NWCU") else {
        bail!("the case has no GB-NWCU record");
    };
    let mut gb = demo.client("GB-NWCU");
    let req = pb::RetractRequest {
        id: p.id.clone(),
        reason: "the carving is antique, with papers".into(),
    };
    let retraction = gb
        .retract(req)
        .await
        .map_err(crate::explain)?
        .into_inner()
        .id;
    let confirmed = wait("deletion receipts from KE-KWS, ZA-DFFE and VN-EP", || {
        let (mut gb, id) = (gb.clone(), retraction.clone());
        async move {
            let r = gb.get(pb::GetRequest { id }).await.ok()?.into_inner();
            let who: Vec<String> = r.holders.iter().map(|h| h.agency.clone()).collect();
            (who.len() == 3).then_some(who)
        }
    })
    .await?;
    output::line(&format!(
        "   {} retracted; deletion confirmed by {}",
        p.name,
        confirmed.join(", ")
    ))
}

pub(super) async fn complete(demo: &Demo) -> anyhow::Result<()> {
    step(
        8,
        "The completeness check",
        "each pair reconciles the ids one may send the other with the ids held: nothing is missing",
    )?;
    let mut rows = Vec::new();
    for a in AGENCIES {
        let r = sync(&mut demo.client(a), true).await?;
        for p in r.peers {
            rows.push(vec![
                a.to_string(),
                p.agency.clone(),
                p.verify_missing.to_string(),
                p.verify_peer_lacks.to_string(),
            ]);
        }
    }
    output::table(&["node", "peer", "missing here", "the peer lacks"], rows)
}

/// `sync --wait` (and `--verify`).
pub(super) async fn sync(c: &mut Client, verify: bool) -> anyhow::Result<pb::PeersResponse> {
    let req = pb::SyncRequest {
        wait: true,
        timeout_secs: 60,
        verify,
        ..Default::default()
    };
    Ok(c.sync(req).await.map_err(crate::explain)?.into_inner())
}

/// Polls `check` until it gives a value (within a minute).
pub(super) async fn wait<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let mut d = Deadline::new(what, Duration::from_secs(60));
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        d.tick("not yet").await?;
    }
}
