//! Query planning and execution over the secondary indexes.
//!
//! Plan: of the filter terms, drive the scan from the one with the fewest
//! entries (stats counters; selectors and words, which have no counter, are
//! assumed selective), walk its index newest first within the time bounds,
//! and keep candidates whose own terms contain every filter term.

use std::collections::HashSet;

use super::{Store, StoreError, Stored, keys};
use crate::record::RecordId;
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
    /// Continue after this position (from the previous page).
    pub after: Option<(i64, RecordId)>,
    /// Include superseded versions.
    pub history: bool,
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
    let prefix = keys::index_prefix(drive.0, &drive.1);
    let mut lo = prefix.clone();
    lo.extend_from_slice(&keys::time_bytes(q.since.unwrap_or(i64::MIN)));
    let mut hi = prefix.clone();
    match q.after {
        // Strictly before the last record returned.
        Some((t, id)) => {
            hi.extend_from_slice(&keys::time_bytes(t));
            hi.extend_from_slice(id.as_bytes());
            if let Some(u) = q.until
                && u <= t
            {
                hi.truncate(prefix.len());
                hi.extend_from_slice(&keys::time_bytes(u));
            }
        }
        None => match q.until {
            Some(u) => hi.extend_from_slice(&keys::time_bytes(u)),
            None => hi.extend_from_slice(&[0xff; keys::SUFFIX]),
        },
    }
    let wanted: HashSet<&Term> = q.terms.iter().collect();
    let mut out: Vec<Stored> = Vec::new();
    let mut more = false;
    for kv in store.trees().index.range(lo..hi).rev() {
        let (k, _) = kv?;
        let Some((_, id)) = keys::index_suffix(&k) else {
            continue;
        };
        let Some(s) = store.get(&id)? else { continue };
        if !q.history && s.superseded_by.is_some() {
            continue;
        }
        if wanted.len() > 1 {
            let have: HashSet<Term> = terms::terms(s.record.body()).into_iter().collect();
            if !wanted.iter().all(|t| have.contains(*t)) {
                continue;
            }
        }
        if out.len() == limit {
            more = true;
            break;
        }
        out.push(s);
    }
    let next = if more {
        out.last()
            .map(|s| keys::encode_cursor(s.record.body().created_at, &s.record.id()))
    } else {
        None
    };
    Ok(QueryPage { records: out, next })
}
