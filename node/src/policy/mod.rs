//! Sharing decisions, as pure functions of a record's handling, the
//! manifest in force and this node's per-peer policy. No I/O.
//!
//! - The **audience** of a record is who may ever hold it: `LOCAL` the
//!   author only; `AGENCIES` the listed agencies; `GROUPS` the members of
//!   the listed manifest groups (an unknown or empty group adds nobody:
//!   fail closed); `FEDERATION` every agency of the manifest. The author is
//!   always in it; revoked agencies never are.
//! - The records of a coordinated operation (proposal, responses,
//!   updates) also reach the agencies its lead **added** in signed updates
//!   (`added`, worked out by the node from the records it holds: see
//!   [`crate::record::operation`]). For any other kind `added` is ignored.
//! - A node **sends** a record to a peer only if the peer is in the
//!   audience, the peer's policy here allows its TLP and kind, and either
//!   this node is the author or the record may be relayed (not `H2`, and
//!   the policy relays third-party records).

use wildnet_proto::v1 as pb;

use crate::membership::manifest::Trusted;
use crate::record::Handled;

/// This node's sharing policy towards one peer (`node.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPolicy {
    /// Highest TLP sent to the peer.
    pub max_tlp: pb::Tlp,
    /// Kinds sent (`None`: all).
    pub kinds: Option<Vec<String>>,
    /// Whether records authored by other agencies are relayed.
    pub relay: bool,
}

impl Default for PeerPolicy {
    fn default() -> Self {
        PeerPolicy {
            max_tlp: pb::Tlp::Red,
            kinds: None,
            relay: true,
        }
    }
}

/// Why a record is not sent or not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deny {
    /// The agency is not in the record's audience.
    NotInAudience,
    /// Above the TLP the policy allows for that peer.
    TlpAbovePolicy,
    /// A kind the policy does not send to that peer.
    KindNotShared,
    /// H2: only the author's node may send it.
    NoOnwardDissemination,
    /// The policy does not relay third-party records to that peer.
    RelayNotAllowed,
    /// The peer is the record's author: it has it already.
    IsAuthor,
}

impl std::fmt::Display for Deny {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Deny::NotInAudience => "the agency is not in the record's audience",
            Deny::TlpAbovePolicy => "the record's TLP is above the sharing policy for that peer",
            Deny::KindNotShared => "the sharing policy does not share this kind with that peer",
            Deny::NoOnwardDissemination => "handling code H2: only the author's node may send it",
            Deny::RelayNotAllowed => {
                "the sharing policy does not relay third-party records to that peer"
            }
            Deny::IsAuthor => "the peer is the record's author",
        })
    }
}

fn active(m: &Trusted, id: &str, now_ms: i64) -> bool {
    m.agency(id)
        .is_some_and(|a| a.revoked_at == 0 || a.revoked_at > now_ms)
}

/// Whether `agency` is in the audience of a record with this body.
pub fn in_audience(body: &impl Handled, agency: &str, m: &Trusted, now_ms: i64) -> bool {
    if agency == body.author() {
        return true;
    }
    if !active(m, agency, now_ms) {
        return false;
    }
    let Some(h) = body.handling() else {
        return false;
    };
    match pb::Scope::try_from(h.scope).unwrap_or(pb::Scope::Unspecified) {
        pb::Scope::Unspecified | pb::Scope::Local => false,
        pb::Scope::Agencies => h.agencies.iter().any(|a| a == agency),
        pb::Scope::Groups => h
            .groups
            .iter()
            .any(|g| m.group(g).iter().any(|a| a == agency)),
        pb::Scope::Federation => true,
    }
}

/// Whether `agency` is in the audience of a record with this body, where
/// `added` are the agencies the lead of the record's operation added (they
/// count for operation records only, and only while active).
pub fn in_audience_with(
    body: &impl Handled,
    agency: &str,
    m: &Trusted,
    now_ms: i64,
    added: &[String],
) -> bool {
    in_audience(body, agency, m, now_ms)
        || (body.is_operation() && added.iter().any(|a| a == agency) && active(m, agency, now_ms))
}

/// The whole audience under a manifest (author first, then sorted).
pub fn audience(body: &impl Handled, m: &Trusted, now_ms: i64) -> Vec<String> {
    let mut out = vec![body.author().to_string()];
    let mut others: Vec<String> = m
        .body()
        .agencies
        .iter()
        .map(|a| a.id.clone())
        .filter(|a| a != body.author() && in_audience(body, a, m, now_ms))
        .collect();
    others.sort();
    out.extend(others);
    out
}

/// Whether this node (`me`) may send the record to `peer` (`added`: see
/// [`in_audience_with`]).
pub fn may_send(
    body: &impl Handled,
    me: &str,
    peer: &str,
    m: &Trusted,
    policy: &PeerPolicy,
    now_ms: i64,
    added: &[String],
) -> Result<(), Deny> {
    if !in_audience_with(body, peer, m, now_ms, added) || peer == me {
        return Err(Deny::NotInAudience);
    }
    if peer == body.author() {
        return Err(Deny::IsAuthor);
    }
    let (tlp, code) = body.handling().map_or((0, 0), |h| (h.tlp, h.code));
    if tlp > policy.max_tlp as i32 {
        return Err(Deny::TlpAbovePolicy);
    }
    if let Some(kinds) = &policy.kinds
        && !kinds.iter().any(|k| k == body.kind())
    {
        return Err(Deny::KindNotShared);
    }
    if body.author() != me {
        if code == pb::HandlingCode::H2 as i32 {
            return Err(Deny::NoOnwardDissemination);
        }
        if !policy.relay {
            return Err(Deny::RelayNotAllowed);
        }
    }
    Ok(())
}

/// Whether this node (`me`) may accept the record from `from`: it must be
/// in the audience (`added`: see [`in_audience_with`]), and an H2 record
/// only comes from its author.
pub fn may_receive(
    body: &impl Handled,
    me: &str,
    from: &str,
    m: &Trusted,
    now_ms: i64,
    added: &[String],
) -> Result<(), Deny> {
    if !in_audience_with(body, me, m, now_ms, added) {
        return Err(Deny::NotInAudience);
    }
    let code = body.handling().map_or(0, |h| h.code);
    if code == pb::HandlingCode::H2 as i32 && from != body.author() {
        return Err(Deny::NoOnwardDissemination);
    }
    Ok(())
}

/// Whether `new` lets a peer get a record that `old` did not: a higher
/// TLP, a kind not sent before, or relaying switched on. Such a change
/// bumps the policy epoch and the peer re-pulls from the start of the feed.
pub fn widens(old: &PeerPolicy, new: &PeerPolicy) -> bool {
    let kinds = |p: &PeerPolicy| -> Vec<&str> {
        crate::record::KINDS
            .iter()
            .copied()
            .filter(|k| p.kinds.as_ref().is_none_or(|ks| ks.iter().any(|x| x == k)))
            .collect()
    };
    let (before, after) = (kinds(old), kinds(new));
    // A policy that sends no kind sends nothing, whatever else it says.
    !after.is_empty()
        && ((new.max_tlp as i32) > (old.max_tlp as i32)
            || after.iter().any(|k| !before.contains(k))
            || (new.relay && !old.relay))
}

/// The policy as it travels in Hello, with its epoch.
pub fn to_pb(p: &PeerPolicy, epoch: u64) -> pb::SharePolicy {
    pb::SharePolicy {
        max_tlp: p.max_tlp as i32,
        kinds: p.kinds.clone().unwrap_or_default(),
        all_kinds: p.kinds.is_none(),
        relay: p.relay,
        epoch,
    }
}

/// The policy a peer announced (an unknown TLP reads as the narrowest).
pub fn from_pb(p: &pb::SharePolicy) -> PeerPolicy {
    PeerPolicy {
        max_tlp: pb::Tlp::try_from(p.max_tlp).unwrap_or(pb::Tlp::Clear),
        kinds: if p.all_kinds {
            None
        } else {
            Some(p.kinds.clone())
        },
        relay: p.relay,
    }
}

/// The groups of the manifest that list `agency`.
pub fn groups_of(agency: &str, m: &Trusted) -> Vec<String> {
    m.body()
        .groups
        .iter()
        .filter(|g| g.members.iter().any(|a| a == agency))
        .map(|g| g.name.clone())
        .collect()
}

/// Whether `me` puts a record on the wire to `peer` (Pull, Fetch, and the
/// set the completeness check compares): not expired, and [`may_send`].
pub fn may_serve(
    b: &impl Handled,
    me: &str,
    peer: &str,
    m: &Trusted,
    policy: &PeerPolicy,
    now: i64,
    added: &[String],
) -> bool {
    (b.expires_at() == 0 || b.expires_at() > now)
        && may_send(b, me, peer, m, policy, now, added).is_ok()
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
