//! One Hello round with a peer: dial if needed, compare manifest versions
//! and bring the older side up to date, take the peer's announced sharing
//! policy and feed head (a re-pull when its epoch grew or its feed was
//! reset).

use std::sync::Arc;

use wildnet_proto::v1 as pb;

use super::status;
use crate::node::Node;

/// One Hello round: returns the peer's manifest version after syncing
/// manifests, and the sharing policy it announced towards this node.
pub(super) async fn hello(
    node: &Arc<Node>,
    peer: &str,
    address: &str,
    client: &mut Option<Client>,
) -> Result<(u64, crate::policy::PeerPolicy), String> {
    let Some(fed) = node.federation() else {
        return Err("no federation".into());
    };
    if client.is_none() {
        *client = Some(super::dial::dial(fed, peer, address).await?);
    }
    let Some(c) = client.as_mut() else {
        return Err("no connection".into());
    };
    let ours = node.manifest_version();
    let hello = c
        .hello(pb::HelloRequest {
            manifest_version: ours,
        })
        .await
        .map_err(status)?
        .into_inner();
    if hello.agency != peer {
        return Err(format!(
            "peer answered as {}, expected {peer}",
            hello.agency
        ));
    }
    let theirs = gossip(node, peer, c, ours, hello.manifest_version).await?;
    let policy = hello.policy.unwrap_or_default();
    node.check_peer_epoch(peer, policy.epoch, hello.feed_head)
        .await
        .map_err(|e| e.to_string())?;
    let cursor = node.cursor(peer).map_err(|e| e.to_string())?;
    fed.peer_update(peer, |p| {
        p.policy_epoch = policy.epoch;
        p.peer_head = hello.feed_head;
        p.cursor = cursor;
    });
    Ok((theirs, crate::policy::from_pb(&policy)))
}

type Client = wildnet_proto::v1::federation_client::FederationClient<tonic::transport::Channel>;

/// Brings the older side up to date: fetches the peer's newer manifest, or
/// offers ours. Returns the peer's version afterwards.
async fn gossip(
    node: &Arc<Node>,
    peer: &str,
    c: &mut Client,
    ours: u64,
    theirs: u64,
) -> Result<u64, String> {
    if theirs > ours {
        let m = c
            .get_manifest(pb::GetManifestRequest {})
            .await
            .map_err(status)?
            .into_inner();
        let r = node.adopt_manifest(m, &format!("peer:{peer}")).await;
        if !r.adopted && r.version < theirs {
            return Err(format!(
                "peer's manifest version {theirs} refused: {}",
                r.reason
            ));
        }
        Ok(theirs)
    } else if theirs < ours {
        let Some(fed) = node.federation() else {
            return Err("no federation".into());
        };
        let r = c
            .offer_manifest(fed.current().manifest().clone())
            .await
            .map_err(status)?
            .into_inner();
        Ok(r.version)
    } else {
        Ok(theirs)
    }
}
