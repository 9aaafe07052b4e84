//! The completeness check: range-based set reconciliation of the ids the
//! peer may send this node with those held here, then a fetch of what is
//! missing.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::federation_client::FederationClient;

use super::pull::account;
use super::{FETCH_MAX, status};
use crate::membership::reconcile::{Id, Initiator};
use crate::node::Node;
use crate::policy;

/// The completeness check with `peer`: reconciles the ids the peer may send
/// this node (under the policy it `announced`) with those held here, then
/// fetches and stores what is missing. The outcome shows in `wildnet peers`.
pub(super) async fn verify(
    node: &Arc<Node>,
    peer: &str,
    client: &mut FederationClient<tonic::transport::Channel>,
    announced: &policy::PeerPolicy,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    let (n, p, me, pol) = (
        node.clone(),
        peer.to_string(),
        node.agency().to_string(),
        announced.clone(),
    );
    let ours = tokio::task::spawn_blocking(move || n.sendable_ids(&p, &me, &pol))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let held = ours.len();
    let init = reconcile(client, ours).await?;
    let mut missing = Vec::new();
    for id in &init.missing {
        let rid = crate::record::RecordId::from_bytes(*id);
        if !node.knows(&rid).map_err(|e| e.to_string())? {
            missing.push(id.to_vec());
        }
    }
    let repaired = fetch(node, peer, client, &missing).await?;
    report(
        node,
        peer,
        held,
        missing.len() as u64,
        repaired,
        &init,
        started,
    );
    Ok(())
}

/// Logs, audits (when something was missing) and shows the outcome in
/// `wildnet peers`.
fn report(
    node: &Node,
    peer: &str,
    held: usize,
    found: u64,
    repaired: u64,
    init: &Initiator,
    started: std::time::Instant,
) {
    if found > 0 {
        tracing::warn!(
            peer,
            missing = found,
            repaired,
            "completeness check: records the peer should have sent were missing; fetched"
        );
        node.audit_nowait(
            &format!("peer:{peer}"),
            "verify",
            format!(
                "missing={found} repaired={repaired} peer_lacks={}",
                init.they_lack
            ),
        );
    }
    tracing::info!(
        peer,
        held,
        missing = found,
        repaired,
        peer_lacks = init.they_lack,
        ranges = init.ranges_sent,
        ms = started.elapsed().as_millis() as u64,
        "completeness check done"
    );
    if let Some(fed) = node.federation() {
        fed.peer_update(peer, |p| {
            p.verified_at = crate::now_ms();
            p.verify_missing = found;
            p.verify_repaired = repaired;
            p.verify_peer_lacks = init.they_lack;
            p.verify_ranges = init.ranges_sent;
            p.verify_error.clear();
        });
    }
}

/// Runs the reconciliation of `ours` with the peer to its end.
async fn reconcile(
    client: &mut FederationClient<tonic::transport::Channel>,
    ours: Vec<Id>,
) -> Result<Initiator, String> {
    let mut init = Initiator::new(ours);
    let (tx, rx) = mpsc::channel(4);
    tx.send(init.first())
        .await
        .map_err(|_| "reconcile: channel closed".to_string())?;
    let mut inbound = client
        .reconcile(ReceiverStream::new(rx))
        .await
        .map_err(status)?
        .into_inner();
    loop {
        let resp = inbound
            .message()
            .await
            .map_err(status)?
            .ok_or("the peer ended the reconciliation early")?;
        match init.step(&resp)? {
            Some(next) => tx
                .send(next)
                .await
                .map_err(|_| "reconcile: channel closed".to_string())?,
            None => return Ok(init),
        }
    }
}

/// Fetches `missing` from the peer and stores it like pulled records;
/// returns how many were stored.
async fn fetch(
    node: &Arc<Node>,
    peer: &str,
    client: &mut FederationClient<tonic::transport::Channel>,
    missing: &[Vec<u8>],
) -> Result<u64, String> {
    let mut repaired = 0;
    for chunk in missing.chunks(FETCH_MAX) {
        let records = client
            .fetch(pb::FetchRequest {
                ids: chunk.to_vec(),
            })
            .await
            .map_err(status)?
            .into_inner()
            .records;
        let r = node
            .ingest(peer, records.into_iter().map(|r| (0, r)).collect())
            .await
            .map_err(|e| format!("storing fetched records failed: {e}"))?;
        repaired += r.received;
        account(node, peer, &r);
    }
    Ok(repaired)
}
