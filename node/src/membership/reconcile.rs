//! Range-based set reconciliation over record ids (pure; the RPC plumbing
//! is in [`super::sync`]), in the manner of negentropy.
//!
//! Both sides hold a sorted list of 32-byte ids. The initiator (the
//! puller) sends ranges `[lower, upper)` with the count and fingerprint of
//! its ids in each. The responder (the source) answers each range:
//! - **match** when its own count and fingerprint are the same;
//! - **ids** with its ids in full when it has at most [`LEAF`] there;
//! - **split** into [`PARTS`] sub-ranges, cut at its own ids, each with its
//!   own count and fingerprint.
//!
//! The initiator compares the parts with its own and sends back only those
//! that differ. Matching ranges stop at once, so the bytes and rounds grow
//! with the difference (about `d · LEAF` ids over `log_PARTS(n)` rounds),
//! not with the size of the sets.
//!
//! The fingerprint of a range is the first 16 bytes of
//! SHA-256(sum of its ids as 256-bit little-endian numbers, mod 2^256 ||
//! count as u64 little-endian).

use sha2::{Digest, Sha256};
use wildnet_proto::v1 as pb;

/// A record id.
pub type Id = [u8; 32];

/// A range with at most this many of the responder's ids is answered in full.
pub const LEAF: usize = 32;
/// A larger range is split into this many parts.
pub const PARTS: usize = 16;
/// Most ranges in one message (a bound against a hostile peer).
pub const MAX_RANGES: usize = 8192;

/// The fingerprint of a set of ids.
pub fn fingerprint(ids: &[Id]) -> Vec<u8> {
    let mut sum = [0u64; 4];
    for id in ids {
        let mut carry = 0u128;
        for (i, limb) in sum.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&id[i * 8..i * 8 + 8]);
            let v = u128::from(*limb) + u128::from(u64::from_le_bytes(b)) + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
    }
    let mut h = Sha256::new();
    for limb in sum {
        h.update(limb.to_le_bytes());
    }
    h.update((ids.len() as u64).to_le_bytes());
    h.finalize()[..16].to_vec()
}

/// The ids of a sorted list within `[lower, upper)`; an empty `upper` is
/// the end of the id space.
pub fn slice<'a>(ids: &'a [Id], lower: &[u8], upper: &[u8]) -> &'a [Id] {
    let start = ids.partition_point(|id| id.as_slice() < lower);
    let end = if upper.is_empty() {
        ids.len()
    } else {
        ids.partition_point(|id| id.as_slice() < upper)
    };
    &ids[start..end.max(start)]
}

fn range(ids: &[Id], lower: &[u8], upper: &[u8]) -> pb::IdRange {
    let s = slice(ids, lower, upper);
    pb::IdRange {
        lower: lower.to_vec(),
        upper: upper.to_vec(),
        count: s.len() as u64,
        fingerprint: fingerprint(s),
    }
}

/// The responder's answer to one request.
pub fn respond(ours: &[Id], req: &pb::ReconcileRequest) -> Result<pb::ReconcileResponse, String> {
    if req.ranges.len() > MAX_RANGES {
        return Err(format!(
            "{} ranges in one message; at most {MAX_RANGES}",
            req.ranges.len()
        ));
    }
    let mut out = Vec::with_capacity(req.ranges.len());
    for r in &req.ranges {
        let s = slice(ours, &r.lower, &r.upper);
        let mut reply = pb::RangeReply {
            lower: r.lower.clone(),
            upper: r.upper.clone(),
            ..Default::default()
        };
        if s.len() as u64 == r.count && fingerprint(s) == r.fingerprint {
            reply.mode = pb::range_reply::Mode::Match as i32;
        } else if s.len() <= LEAF {
            reply.mode = pb::range_reply::Mode::Ids as i32;
            reply.ids = s.iter().map(|i| i.to_vec()).collect();
        } else {
            reply.mode = pb::range_reply::Mode::Split as i32;
            let cut = |i: usize| s[i * s.len() / PARTS].to_vec();
            for i in 0..PARTS {
                let lower = if i == 0 { r.lower.clone() } else { cut(i) };
                let upper = if i + 1 == PARTS {
                    r.upper.clone()
                } else {
                    cut(i + 1)
                };
                reply.parts.push(range(s, &lower, &upper));
            }
        }
        out.push(reply);
    }
    Ok(pb::ReconcileResponse { ranges: out })
}

/// The initiator's side of one reconciliation.
#[derive(Debug)]
pub struct Initiator {
    ours: Vec<Id>,
    /// Ids the responder has and we lack.
    pub missing: Vec<Id>,
    /// How many of our ids the responder lacks.
    pub they_lack: u64,
    /// Ranges sent so far (the cost of the exchange).
    pub ranges_sent: u64,
    /// Ids received in full so far.
    pub ids_received: u64,
}

impl Initiator {
    /// Starts with our ids (any order).
    pub fn new(mut ours: Vec<Id>) -> Initiator {
        ours.sort_unstable();
        ours.dedup();
        Initiator {
            ours,
            missing: Vec::new(),
            they_lack: 0,
            ranges_sent: 0,
            ids_received: 0,
        }
    }

    /// The first message: the whole id space.
    pub fn first(&mut self) -> pb::ReconcileRequest {
        self.ranges_sent += 1;
        pb::ReconcileRequest {
            ranges: vec![range(&self.ours, &[], &[])],
        }
    }

    /// Takes an answer; returns the next message, or None when done.
    pub fn step(
        &mut self,
        resp: &pb::ReconcileResponse,
    ) -> Result<Option<pb::ReconcileRequest>, String> {
        let mut next = Vec::new();
        for r in &resp.ranges {
            let mine = slice(&self.ours, &r.lower, &r.upper);
            match pb::range_reply::Mode::try_from(r.mode) {
                Ok(pb::range_reply::Mode::Match) => {}
                Ok(pb::range_reply::Mode::Ids) => {
                    let mut theirs: Vec<Id> = Vec::with_capacity(r.ids.len());
                    for id in &r.ids {
                        let id: Id = id
                            .as_slice()
                            .try_into()
                            .map_err(|_| "the peer sent an id that is not 32 bytes".to_string())?;
                        theirs.push(id);
                    }
                    self.ids_received += theirs.len() as u64;
                    theirs.sort_unstable();
                    for id in &theirs {
                        if mine.binary_search(id).is_err() {
                            self.missing.push(*id);
                        }
                    }
                    self.they_lack += mine
                        .iter()
                        .filter(|id| theirs.binary_search(id).is_err())
                        .count() as u64;
                }
                Ok(pb::range_reply::Mode::Split) => {
                    if r.parts.len() > PARTS * 4 {
                        return Err("the peer split a range into too many parts".into());
                    }
                    for p in &r.parts {
                        let part = slice(mine, &p.lower, &p.upper);
                        if part.len() as u64 == p.count && fingerprint(part) == p.fingerprint {
                            continue;
                        }
                        if p.count == 0 {
                            self.they_lack += part.len() as u64;
                            continue;
                        }
                        next.push(range(part, &p.lower, &p.upper));
                    }
                }
                _ => return Err(format!("the peer answered a range with mode {}", r.mode)),
            }
        }
        if next.is_empty() {
            return Ok(None);
        }
        if next.len() > MAX_RANGES {
            return Err("the reconciliation diverges (too many ranges)".into());
        }
        self.ranges_sent += next.len() as u64;
        Ok(Some(pb::ReconcileRequest { ranges: next }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Over random sets sharing a random part, the initiator learns
        /// exactly the ids it lacks and how many the responder lacks.
        #[test]
        fn finds_exactly_the_symmetric_difference(
            common in 0usize..3000,
            only_ours in 0usize..200,
            only_theirs in 0usize..200,
            salt in 0u8..250,
        ) {
            let shared = ids(common, salt);
            let mut ours = shared.clone();
            ours.extend(ids(only_ours, salt + 1));
            let mut theirs = shared;
            let extra = ids(only_theirs, salt + 2);
            theirs.extend(extra.iter().copied());
            let (init, _) = run(ours, theirs);
            let mut missing = init.missing.clone();
            missing.sort_unstable();
            let mut want = extra;
            want.sort_unstable();
            proptest::prop_assert_eq!(missing, want);
            proptest::prop_assert_eq!(init.they_lack, only_ours as u64);
        }
    }

    fn ids(n: usize, salt: u8) -> Vec<Id> {
        (0..n)
            .map(|i| {
                let mut h = Sha256::new();
                h.update([salt]);
                h.update((i as u64).to_le_bytes());
                h.finalize().into()
            })
            .collect()
    }

    /// Runs the whole exchange in memory; returns the initiator and rounds.
    fn run(ours: Vec<Id>, mut theirs: Vec<Id>) -> (Initiator, usize) {
        theirs.sort_unstable();
        let mut init = Initiator::new(ours);
        let mut req = init.first();
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 64, "does not terminate");
            let resp = respond(&theirs, &req).expect("respond");
            match init.step(&resp).expect("step") {
                Some(r) => req = r,
                None => return (init, rounds),
            }
        }
    }

    #[test]
    fn equal_sets_match_in_one_round() {
        let a = ids(10_000, 1);
        let (i, rounds) = run(a.clone(), a);
        assert_eq!(rounds, 1);
        assert!(i.missing.is_empty());
        assert_eq!(i.they_lack, 0);
        assert_eq!(i.ids_received, 0);
    }

    #[test]
    fn finds_exactly_the_difference_both_ways() {
        let all = ids(20_000, 2);
        let mut theirs = all.clone();
        let mut ours = all.clone();
        // We lack 7 scattered ids; they lack 3 others.
        let lacking: Vec<Id> = [5usize, 999, 4000, 4001, 12_345, 19_998, 17]
            .iter()
            .map(|&i| all[i])
            .collect();
        ours.retain(|id| !lacking.contains(id));
        let theirs_lack = [100usize, 200, 300];
        let keep: Vec<Id> = theirs_lack.iter().map(|&i| all[i]).collect();
        theirs.retain(|id| !keep.contains(id));
        let (i, rounds) = run(ours, theirs);
        let mut got = i.missing.clone();
        got.sort_unstable();
        let mut want = lacking.clone();
        want.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(i.they_lack, 3);
        // Cost grows with the difference, not the 20,000 ids.
        assert!(rounds <= 6, "{rounds} rounds");
        assert!(
            i.ids_received <= 10 * LEAF as u64,
            "{} ids sent in full",
            i.ids_received
        );
        assert!(
            i.ranges_sent <= 10 * 4 * PARTS as u64,
            "{} ranges",
            i.ranges_sent
        );
    }

    #[test]
    fn empty_sides() {
        let a = ids(100, 3);
        let (i, _) = run(Vec::new(), a.clone());
        assert_eq!(i.missing.len(), 100);
        let (i, _) = run(a, Vec::new());
        assert!(i.missing.is_empty());
        assert_eq!(i.they_lack, 100);
        let (i, rounds) = run(Vec::new(), Vec::new());
        assert_eq!((i.missing.len(), i.they_lack, rounds), (0, 0, 1));
    }

    #[test]
    fn disjoint_large_sets_still_complete() {
        let (i, _) = run(ids(3_000, 4), ids(2_000, 5));
        assert_eq!(i.missing.len(), 2_000);
        assert_eq!(i.they_lack, 3_000);
    }

    #[test]
    fn fingerprint_depends_on_every_id_and_the_count() {
        let a = ids(3, 6);
        assert_ne!(fingerprint(&a), fingerprint(&a[..2]));
        let mut b = a.clone();
        b[1][31] ^= 1;
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&[]), fingerprint(&[]));
    }

    #[test]
    fn hostile_messages_are_refused() {
        let req = pb::ReconcileRequest {
            ranges: vec![pb::IdRange::default(); MAX_RANGES + 1],
        };
        assert!(respond(&[], &req).is_err());
        let mut init = Initiator::new(Vec::new());
        let bad = pb::ReconcileResponse {
            ranges: vec![pb::RangeReply {
                mode: pb::range_reply::Mode::Ids as i32,
                ids: vec![vec![1, 2, 3]],
                ..Default::default()
            }],
        };
        assert!(init.step(&bad).is_err());
    }
}
