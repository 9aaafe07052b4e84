//! Delivery of queued receipts to a peer.

use std::sync::Arc;

use wildnet_proto::v1 as pb;
use wildnet_proto::v1::federation_client::FederationClient;

use super::status;
use crate::node::Node;

/// Sends every receipt queued for `peer`, oldest first, and unqueues
/// those the peer acknowledged.
pub(super) async fn deliver_receipts(
    node: &Arc<Node>,
    peer: &str,
    client: &mut FederationClient<tonic::transport::Channel>,
) -> Result<(), String> {
    loop {
        let queued = node.outbox(peer, 256).map_err(|e| e.to_string())?;
        if queued.is_empty() {
            return Ok(());
        }
        let (keys, receipts): (Vec<_>, Vec<_>) = queued.into_iter().unzip();
        let receipts = receipts
            .into_iter()
            .filter(|r| !r.body.is_empty())
            .collect();
        client
            .acknowledge(pb::ReceiptBatch { receipts })
            .await
            .map_err(|e| format!("delivering receipts: {}", status(e)))?;
        node.outbox_done(keys).await.map_err(|e| e.to_string())?;
    }
}
