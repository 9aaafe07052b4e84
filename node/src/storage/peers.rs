//! What this node keeps about its peers, typed: how far it has pulled each
//! peer's feed (cursor), the sharing policy it last applied towards each
//! peer and the epoch each peer last announced (policy epochs), the
//! receipts queued for each peer (outbox), who holds this agency's records
//! (holders, with the signed receipts that prove it), and the manifest it
//! adopted last. The key encodings are in [`super::keys`].

use prost::Message;
use wildnet_proto::v1 as pb;

use super::{KvWrite, Side, Store, StoreError, keys};
use crate::record::RecordId;

/// One change to the peer state. Writes are applied in order, durably and
/// together (one group commit); returned from an
/// [`AfterInsert`](super::AfterInsert), they commit with the records.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerWrite {
    /// How far `peer`'s feed is pulled.
    Cursor {
        /// The peer.
        peer: String,
        /// The last feed position taken.
        seq: u64,
    },
    /// This node's sharing policy towards `peer`, as last in force, with
    /// its epoch.
    Policy {
        /// The peer.
        peer: String,
        /// The policy and epoch.
        policy: pb::SharePolicy,
    },
    /// The policy epoch `peer` last announced towards this node.
    Epoch {
        /// The peer.
        peer: String,
        /// Its epoch.
        epoch: u64,
    },
    /// Pull `peer`'s feed again from the start at the next Hello with it
    /// (`why`: for the log and the audit); `None` clears the request.
    Repull {
        /// The peer.
        peer: String,
        /// Why, or `None` once done.
        why: Option<String>,
    },
    /// A receipt queued for `peer` under queue number `n` (a fresh
    /// number: [`Store::next_queue_number`]).
    Queue {
        /// The peer to deliver it to.
        peer: String,
        /// Queue number.
        n: u64,
        /// The signed receipt.
        receipt: pb::Receipt,
    },
    /// A delivered receipt leaves the queue.
    Delivered(QueueKey),
    /// On the author's node: `holder` has stored record `id` since `at`,
    /// proven by the receipt whose body hashes to `proof`.
    Holder {
        /// The record.
        id: RecordId,
        /// The agency holding it.
        holder: String,
        /// When it stored it, unix ms.
        at: i64,
        /// SHA-256 of the receipt body.
        proof: [u8; 32],
    },
    /// A signed receipt that holder entries point to.
    Proof {
        /// SHA-256 of its body.
        hash: [u8; 32],
        /// The receipt.
        receipt: pb::Receipt,
    },
    /// The manifest this node adopted.
    Manifest(pb::Manifest),
}

/// Where a queued receipt waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKey(pub(crate) Vec<u8>);

impl PeerWrite {
    pub(crate) fn into_kv(self) -> KvWrite {
        let put = |side, key: Vec<u8>, v: Vec<u8>| (side, key, Some(v));
        match self {
            PeerWrite::Cursor { peer, seq } => put(
                Side::Meta,
                keys::cursor_key(&peer),
                seq.to_be_bytes().to_vec(),
            ),
            PeerWrite::Policy { peer, policy } => {
                put(Side::Meta, keys::policy_key(&peer), policy.encode_to_vec())
            }
            PeerWrite::Epoch { peer, epoch } => put(
                Side::Meta,
                keys::epoch_key(&peer),
                epoch.to_be_bytes().to_vec(),
            ),
            PeerWrite::Repull { peer, why } => (
                Side::Meta,
                keys::repull_key(&peer),
                why.map(String::into_bytes),
            ),
            PeerWrite::Queue { peer, n, receipt } => put(
                Side::Outbox,
                keys::outbox_key(&peer, n),
                receipt.encode_to_vec(),
            ),
            PeerWrite::Delivered(k) => (Side::Outbox, k.0, None),
            PeerWrite::Holder {
                id,
                holder,
                at,
                proof,
            } => {
                let mut value = at.to_be_bytes().to_vec();
                value.extend_from_slice(&proof);
                put(Side::Holders, keys::holder_key(&id, &holder), value)
            }
            PeerWrite::Proof { hash, receipt } => {
                put(Side::Receipts, hash.to_vec(), receipt.encode_to_vec())
            }
            PeerWrite::Manifest(m) => {
                put(Side::Meta, keys::MANIFEST_KEY.to_vec(), m.encode_to_vec())
            }
        }
    }
}

impl Store {
    /// How far this node has pulled `peer`'s feed (0: not yet).
    pub fn cursor(&self, peer: &str) -> Result<u64, StoreError> {
        Ok(self
            .trees
            .meta
            .get(keys::cursor_key(peer))?
            .map_or(0, |v| keys::u64_from(&v)))
    }

    /// This node's policy towards `peer` as last in force, if any.
    pub fn policy(&self, peer: &str) -> Result<Option<pb::SharePolicy>, StoreError> {
        let Some(v) = self.trees.meta.get(keys::policy_key(peer))? else {
            return Ok(None);
        };
        pb::SharePolicy::decode(v.as_ref())
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("policy towards {peer}: {e}")))
    }

    /// The policy epoch `peer` last announced (0: none).
    pub fn peer_epoch(&self, peer: &str) -> Result<u64, StoreError> {
        Ok(self
            .trees
            .meta
            .get(keys::epoch_key(peer))?
            .map_or(0, |v| keys::u64_from(&v)))
    }

    /// Why a re-pull of `peer` from the start was asked for, if one was.
    pub fn repull(&self, peer: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .trees
            .meta
            .get(keys::repull_key(peer))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Up to `limit` receipts queued for `peer`, oldest first; `None` for
    /// one that no longer decodes (it can only be dropped).
    pub fn queued(
        &self,
        peer: &str,
        limit: usize,
    ) -> Result<Vec<(QueueKey, Option<pb::Receipt>)>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .trees
            .outbox
            .scan_prefix(keys::outbox_prefix(peer))
            .take(limit)
        {
            let (k, v) = kv?;
            out.push((QueueKey(k.to_vec()), pb::Receipt::decode(v.as_ref()).ok()));
        }
        Ok(out)
    }

    /// How many receipts wait for `peer`, counted up to `cap` (keys only).
    pub fn queued_len(&self, peer: &str, cap: usize) -> Result<usize, StoreError> {
        let mut n = 0;
        let prefix = keys::outbox_prefix(peer);
        for k in self.trees.outbox.scan_prefix(prefix).keys().take(cap) {
            k?;
            n += 1;
        }
        Ok(n)
    }

    /// A fresh, increasing queue number.
    pub fn next_queue_number(&self) -> Result<u64, StoreError> {
        self.trees.next_id()
    }

    /// On the author's node: who holds record `id` (agency, since when),
    /// sorted by agency.
    pub fn holders(&self, id: &RecordId) -> Result<Vec<(String, i64)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.trees.holders.scan_prefix(id.as_bytes()).take(10_000) {
            let (k, v) = kv?;
            let agency = String::from_utf8_lossy(&k[32..]).into_owned();
            let at = v.get(..8).map_or(0, |b| keys::u64_from(b) as i64);
            out.push((agency, at));
        }
        Ok(out)
    }

    /// The manifest this node adopted last, if it still decodes.
    pub fn adopted_manifest(&self) -> Result<Option<pb::Manifest>, StoreError> {
        Ok(self
            .trees
            .meta
            .get(keys::MANIFEST_KEY)?
            .and_then(|b| pb::Manifest::decode(b.as_ref()).ok()))
    }

    /// Applies `writes` in order, durably and together.
    pub async fn write_peer_state(&self, writes: Vec<PeerWrite>) -> Result<(), StoreError> {
        self.write_kv(writes.into_iter().map(PeerWrite::into_kv).collect())
            .await
    }
}
