//! Announce mode, the puller's side: of the relayed records a peer
//! announced by id, the ones this node lacks are fetched from that peer
//! (what it may no longer send is left out, as in Pull). An id another
//! pull has in flight is waited for first (at most [`WAIT`]), so a record
//! is fetched only if no copy is on its way.

use std::time::Duration;

use wildnet_proto::v1 as pb;

use super::pull::Client;
use crate::node::Node;
use crate::record::RecordId;

/// Longest wait for another pull's copy of an announced record before
/// fetching it anyway.
pub(super) const WAIT: Duration = Duration::from_secs(10);

/// The announced ids this node does not hold (ids that are not 32 bytes
/// are dropped); counts the announcements.
pub(super) fn lacking(
    node: &Node,
    peer: &str,
    announced: Vec<Vec<u8>>,
) -> Result<Vec<RecordId>, String> {
    let count = announced.len() as u64;
    let ids = announced
        .iter()
        .filter_map(|id| RecordId::from_slice(id))
        .collect();
    if let Some(fed) = node.federation() {
        fed.peer_update(peer, |p| p.announced += count);
    }
    still_lacking(node, ids)
}

/// Of `ids`, those this node still does not hold.
pub(super) fn still_lacking(node: &Node, ids: Vec<RecordId>) -> Result<Vec<RecordId>, String> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if !node.store().holds(&id).map_err(|e| e.to_string())? {
            out.push(id);
        }
    }
    Ok(out)
}

/// Fetches `ids` from the peer, each with its id (hashed once); counts
/// what came.
pub(super) async fn fetch(
    node: &Node,
    peer: &str,
    client: &mut Client,
    ids: &[RecordId],
) -> Result<Vec<(RecordId, pb::SignedRecord)>, String> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(super::FETCH_MAX) {
        let req = pb::FetchRequest {
            ids: chunk.iter().map(|id| id.as_bytes().to_vec()).collect(),
        };
        let got = client.fetch(req).await.map_err(super::status)?;
        let records = got.into_inner().records;
        out.extend(records.into_iter().map(|s| (RecordId::of_body(&s.body), s)));
    }
    if let Some(fed) = node.federation()
        && !out.is_empty()
    {
        fed.peer_update(peer, |p| p.fetched += out.len() as u64);
    }
    Ok(out)
}
