//! The hash-chained audit log. Each entry's hash covers the previous hash
//! and the entry's own fields (length-prefixed, so no two entries can share
//! an encoding); `verify` recomputes the chain and names the first broken
//! entry.

use prost::Message;
use sha2::{Digest, Sha256};
use wildnet_proto::v1 as pb;

use super::{StoreError, keys};

/// The hash before the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry to append: the chain fills seq, time and hashes.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    /// Who acted.
    pub actor: String,
    /// What kind of action (publish, import, query, get, retract, …).
    pub action: String,
    /// Ids, counts, filters — never record content.
    pub detail: String,
}

/// The outcome of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerdict {
    /// Entries checked.
    pub entries: u64,
    /// The first broken entry and why, if any.
    pub broken: Option<(u64, String)>,
}

/// The entry's hash.
pub(crate) fn entry_hash(e: &pb::AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(e.prev_hash.as_bytes());
    h.update(e.seq.to_be_bytes());
    h.update(e.at.to_be_bytes());
    for f in [&e.actor, &e.action, &e.detail] {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

pub(super) struct AuditChain {
    next_seq: u64,
    head: String,
}

impl AuditChain {
    pub(super) fn load(tree: &sled::Tree) -> Result<AuditChain, StoreError> {
        match tree.last()? {
            None => Ok(AuditChain {
                next_seq: 1,
                head: GENESIS.to_string(),
            }),
            Some((k, v)) => {
                let e = pb::AuditEntry::decode(v.as_ref())
                    .map_err(|e| StoreError::Corrupt(format!("audit entry: {e}")))?;
                Ok(AuditChain {
                    next_seq: keys::u64_from(&k) + 1,
                    head: e.hash,
                })
            }
        }
    }

    pub(super) fn append(&mut self, tree: &sled::Tree, d: AuditDraft) -> Result<(), StoreError> {
        let mut e = pb::AuditEntry {
            seq: self.next_seq,
            at: chrono::Utc::now().timestamp_millis(),
            actor: d.actor,
            action: d.action,
            detail: d.detail,
            prev_hash: self.head.clone(),
            hash: String::new(),
        };
        e.hash = entry_hash(&e);
        tree.insert(e.seq.to_be_bytes(), e.encode_to_vec())?;
        self.head = e.hash;
        self.next_seq += 1;
        Ok(())
    }
}

pub(super) fn list(
    tree: &sled::Tree,
    since: u64,
    limit: usize,
) -> Result<Vec<pb::AuditEntry>, StoreError> {
    let mut out = Vec::new();
    for kv in tree.range(since.to_be_bytes()..).take(limit) {
        let (_, v) = kv?;
        out.push(
            pb::AuditEntry::decode(v.as_ref())
                .map_err(|e| StoreError::Corrupt(format!("audit entry: {e}")))?,
        );
    }
    Ok(out)
}

pub(super) fn verify(tree: &sled::Tree) -> Result<AuditVerdict, StoreError> {
    let mut prev = GENESIS.to_string();
    let mut n = 0;
    for (expect, kv) in (1u64..).zip(tree.iter()) {
        let (k, v) = kv?;
        let seq = keys::u64_from(&k);
        let broken = |why: String| {
            Ok(AuditVerdict {
                entries: n,
                broken: Some((seq, why)),
            })
        };
        let Ok(e) = pb::AuditEntry::decode(v.as_ref()) else {
            return broken("entry does not decode".into());
        };
        if seq != expect || e.seq != seq {
            return broken(format!(
                "expected entry {expect}: an entry was removed or moved"
            ));
        }
        if e.prev_hash != prev {
            return broken("prev_hash does not match the previous entry's hash".into());
        }
        if entry_hash(&e) != e.hash {
            return broken("hash does not match the entry's contents: it was altered".into());
        }
        prev = e.hash;
        n += 1;
    }
    Ok(AuditVerdict {
        entries: n,
        broken: None,
    })
}
