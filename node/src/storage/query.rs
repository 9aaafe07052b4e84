//! Query planning and execution over the secondary indexes.
//!
//! Plan: of the filter terms, drive the scan from the one with the fewest
//! entries (stats counters; selectors and words, which have no counter, are
//! assumed selective), merge its posting blocks (and its rare entries)
//! newest first within the time bounds (blocks wholly outside them are
//! skipped by their key), and
//! keep candidates whose own terms contain every filter term.

use std::collections::{BinaryHeap, HashSet};

use super::{Store, StoreError, Stored, keys};
use crate::record::terms::{self, Field, Term};

/// A validated query.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Terms every result must have.
    pub terms: Vec<Term>,
    /// Inclusive lower bound on created_at.
    pub since: Option<i64>,
    /// Exclusive upper bound on created_at.
    pub until: Option<i64>,
    /// Page size.
    pub limit: usize,
    /// Continue after this position `(created_at, seq)` (from the previous
    /// page).
    pub after: Option<(i64, u64)>,
    /// Include superseded versions.
    pub history: bool,
}

impl Query {
    /// The position a page token (a [`QueryPage::next`]) continues after;
    /// `None` for a token this node did not issue.
    pub fn after_token(token: &str) -> Option<(i64, u64)> {
        keys::decode_cursor(token)
    }
}

/// One page of results.
#[derive(Debug)]
pub struct QueryPage {
    /// Records, newest first.
    pub records: Vec<Stored>,
    /// Where the next page starts, if there are more.
    pub next: Option<String>,
}

fn estimate(store: &Store, t: &Term) -> Result<u64, StoreError> {
    Ok(match t.0 {
        Field::Selector | Field::Word | Field::Seller => 0,
        Field::All => u64::MAX,
        f => store
            .trees()
            .counts
            .get(keys::stat_key(f, &t.1))?
            .map(|v| keys::u64_from(&v))
            .unwrap_or(0),
    })
}

/// Runs a query: the plan of the module doc, then the newest-first merge
/// of the driving term's blocks. One algorithm whose state (heap,
/// frontier, page) reads better whole (over 60 lines on purpose).
pub(super) fn run(store: &Store, q: &Query) -> Result<QueryPage, StoreError> {
    let limit = q.limit.clamp(1, 1000);
    let mut drive: Term = (Field::All, String::new());
    let mut best = u64::MAX;
    for t in &q.terms {
        let n = estimate(store, t)?;
        if n < best || drive.0 == Field::All {
            best = n;
            drive = t.clone();
        }
    }
    // Positions are `[time][seq]`; a result lies in [lower, upper).
    let lower = keys::entry_floor(q.since.unwrap_or(i64::MIN));
    let mut upper: keys::Entry = [0xff; keys::SUFFIX];
    if let Some(u) = q.until {
        upper = keys::entry_floor(u);
    }
    if let Some((t, seq)) = q.after {
        upper = upper.min(keys::entry(t, seq));
    }
    let prefix = keys::index_prefix(drive.0, &drive.1);
    let mut lo = prefix.clone();
    lo.extend_from_slice(&keys::time_bytes(q.since.unwrap_or(i64::MIN)));
    let hi = keys::prefix_end(&prefix);
    let wanted: HashSet<&Term> = q.terms.iter().collect();
    let mut out: Vec<Stored> = Vec::new();
    let mut more = false;
    let mut last: Option<keys::Entry> = None;
    // Takes one candidate, newest first; true once the page is full and
    // one more result exists.
    let mut take = |e: keys::Entry, out: &mut Vec<Stored>| -> Result<bool, StoreError> {
        // Guard: one position taken once, even if two blocks held it.
        if last == Some(e) {
            return Ok(false);
        }
        last = Some(e);
        let Some(s) = store.get_seq(keys::entry_seq(&e))? else {
            return Ok(false);
        };
        if !q.history && s.superseded_by.is_some() {
            return Ok(false);
        }
        if wanted.len() > 1 {
            let have: HashSet<Term> = terms::of(&s.record).into_iter().collect();
            if !wanted.iter().all(|t| have.contains(*t)) {
                return Ok(false);
            }
        }
        if out.len() == limit {
            return Ok(true);
        }
        out.push(s);
        Ok(false)
    };
    // Blocks newest first by their max time; an entry newer than the next
    // block's max time is final, so entries leave the heap in order. The
    // term's rare entries (a few per batch at most) start in the heap.
    let mut heap: BinaryHeap<keys::Entry> = super::rare::entries(store.trees(), &prefix)?
        .into_iter()
        .filter(|e| *e >= lower && *e < upper)
        .collect();
    'blocks: for kv in store.trees().index.range(lo..hi).rev() {
        let (k, v) = kv?;
        let Some((max, min)) = keys::block_bounds(&k) else {
            continue;
        };
        let mut frontier = keys::entry_floor(max);
        frontier[8..].fill(0xff);
        while heap.peek().is_some_and(|top| *top > frontier) {
            if let Some(e) = heap.pop()
                && take(e, &mut out)?
            {
                more = true;
                break 'blocks;
            }
        }
        if keys::entry_floor(min) >= upper {
            continue;
        }
        for chunk in v.chunks_exact(keys::SUFFIX) {
            let mut e = [0u8; keys::SUFFIX];
            e.copy_from_slice(chunk);
            if e >= lower && e < upper {
                heap.push(e);
            }
        }
    }
    if !more {
        while let Some(e) = heap.pop() {
            if take(e, &mut out)? {
                more = true;
                break;
            }
        }
    }
    let next = if more {
        out.last()
            .map(|s| keys::encode_cursor(s.record.body().created_at, s.seq))
    } else {
        None
    };
    Ok(QueryPage { records: out, next })
}
