//! The consistency check behind `wildnet admin check`: every record row
//! decodes and its signature verifies, ids and rows lead to each other,
//! the counters equal a recount, the index holds exactly each record's
//! entries, and the audit chain verifies. It runs on the writer thread
//! between two group commits, so it sees a consistent store while the node
//! runs: writes wait until it ends (signatures are checked on every core).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::{Store, StoreError, Trees, decode_row, keys, rare};
use crate::record::terms::{self, Field};

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Record rows read.
    pub records: u64,
    /// Index entries of those records found (blocks and rare blocks).
    pub index_entries: u64,
    /// Index entries pointing at no row: left by a batch a crash cut
    /// before its rows (harmless: every read re-checks the row).
    pub dangling: u64,
    /// Audit entries verified.
    pub audit_entries: u64,
    /// Every inconsistency, each naming what and where; empty when sound.
    pub problems: Vec<String>,
}

/// A term's entry as the check counts it: order-free, so the records'
/// entries and the index's can be summed in any order and compared.
fn entry_hash(prefix: &[u8], entry: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    prefix.hash(&mut h);
    entry.hash(&mut h);
    h.finish()
}

/// Sum and count of entry hashes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Digest {
    sum: u64,
    n: u64,
}

impl Digest {
    fn add(&mut self, prefix: &[u8], entry: &[u8]) {
        self.sum = self.sum.wrapping_add(entry_hash(prefix, entry));
        self.n += 1;
    }
}

/// Whether an index prefix is one the check compares: a term of the
/// current normaliser (not a draft digest, not a selector key an older
/// normaliser wrote and the re-index is dropping).
fn compared(prefix: &[u8], selectors: bool) -> bool {
    match prefix.first() {
        Some(&f) if f == Field::Selector as u8 => {
            selectors && prefix.get(1) == Some(&keys::NORMALISER)
        }
        Some(&f) => f > keys::RARE_FILTER + 1,
        None => false,
    }
}

impl Store {
    /// Runs every check; problems are reported, never repaired here.
    pub async fn check(&self) -> Result<CheckReport, StoreError> {
        self.exclusive(check).await
    }
}

fn check(t: &Trees) -> Result<CheckReport, StoreError> {
    let mut report = CheckReport::default();
    // While a selector re-index runs, older rows lack their new keys: the
    // selector entries are left out of the comparison until it ends.
    let selectors = t.meta.get(keys::REINDEX_KEY)?.is_none();
    let (live, expected, counts) = rows(t, selectors, &mut report)?;
    ids(t, &mut report)?;
    let found = index(t, &live, selectors, &mut report)?;
    if found != expected {
        report.problems.push(format!(
            "index: the records have {} entries, the index holds {} of theirs \
             (or different ones), so queries may miss records; the records \
             themselves are intact: restore a backup that `wildnet admin check` \
             passed, or report it",
            expected.n, found.n
        ));
    }
    report.index_entries = found.n;
    counters(t, counts, &mut report)?;
    let verdict = super::audit::verify(&t.audit)?;
    report.audit_entries = verdict.entries;
    if let Some((at, why)) = verdict.broken {
        report
            .problems
            .push(format!("audit chain broken at entry {at}: {why}"));
    }
    Ok(report)
}

type Rows = (Vec<u64>, Digest, HashMap<Vec<u8>, u64>);

/// Rows verified together, on every core.
const CHUNK: usize = 4096;

/// Reads every row: decodes it, verifies its signature, and gathers its
/// feed position, its index entries and its counted terms.
fn rows(t: &Trees, selectors: bool, report: &mut CheckReport) -> Result<Rows, StoreError> {
    let mut acc = (Vec::new(), Digest::default(), HashMap::new());
    let mut chunk = Vec::with_capacity(CHUNK);
    for kv in t.records.iter() {
        let (k, v) = kv?;
        let seq = keys::u64_from(&k);
        match decode_row(seq, &v) {
            Ok((_, r)) => chunk.push((seq, r)),
            Err(e) => report.problems.push(format!("feed position {seq}: {e}")),
        }
        if chunk.len() == CHUNK {
            rows_of(t, std::mem::take(&mut chunk), selectors, &mut acc, report)?;
        }
    }
    rows_of(t, chunk, selectors, &mut acc, report)?;
    Ok(acc)
}

fn rows_of(
    t: &Trees,
    chunk: Vec<(u64, crate::record::Record)>,
    selectors: bool,
    (live, digest, counts): &mut Rows,
    report: &mut CheckReport,
) -> Result<(), StoreError> {
    let checked = crate::limits::par_map(chunk, |(seq, r)| {
        let bad = r.signature_status().err();
        (seq, r, bad)
    });
    for (seq, record, bad) in checked {
        report.records += 1;
        if let Some(e) = bad {
            report
                .problems
                .push(format!("record {} (position {seq}): {e}", record.id()));
        }
        match t.ids.get(record.id().as_bytes())? {
            Some(s) if keys::u64_from(&s) == seq => {}
            other => report.problems.push(format!(
                "record {} at position {seq}: its id leads to {:?}",
                record.id(),
                other.map(|s| keys::u64_from(&s))
            )),
        }
        live.push(seq);
        let e = keys::entry(record.body().created_at, seq);
        let mut all = terms::of(&record);
        all.sort_unstable();
        all.dedup();
        for (field, value) in all {
            let prefix = keys::index_prefix(field, &value);
            if compared(&prefix, selectors) {
                digest.add(&prefix, &e);
            }
            if terms::counted(field) {
                *counts.entry(keys::stat_key(field, &value)).or_default() += 1;
            }
        }
    }
    Ok(())
}

/// Every id entry leads to a row (a crash may leave one without: the row
/// is written last, and the next start drops such entries).
fn ids(t: &Trees, report: &mut CheckReport) -> Result<(), StoreError> {
    for kv in t.ids.iter() {
        let (id, seq) = kv?;
        if !t.records.contains_key(&seq)? {
            report.problems.push(format!(
                "id {} leads to feed position {}, which holds no record",
                hex::encode(&id),
                keys::u64_from(&seq)
            ));
        }
    }
    Ok(())
}

/// Sums the index entries of live rows (posting blocks and rare blocks)
/// and counts the dangling ones.
fn index(
    t: &Trees,
    live: &[u64],
    selectors: bool,
    report: &mut CheckReport,
) -> Result<Digest, StoreError> {
    let mut found = Digest::default();
    let mut take = |prefix: &[u8], entries: &[u8], report: &mut CheckReport| {
        if !compared(prefix, selectors) {
            return;
        }
        for e in entries.chunks_exact(keys::SUFFIX) {
            if live.binary_search(&keys::u64_from(&e[8..])).is_ok() {
                found.add(prefix, e);
            } else {
                report.dangling += 1;
            }
        }
    };
    for kv in t.index.iter() {
        let (k, v) = kv?;
        match k.first() {
            Some(&keys::RARE) => {
                for (prefix, entries) in rare::items(&v) {
                    take(prefix, entries, report);
                }
            }
            Some(&keys::RARE_FILTER) => {}
            _ => match keys::block_prefix(&k) {
                Some(prefix) => take(prefix, &v, report),
                None => report
                    .problems
                    .push(format!("index key {} is not a block key", hex::encode(&k))),
            },
        }
    }
    Ok(found)
}

/// The stored counters equal the recount (zero counters aside).
fn counters(
    t: &Trees,
    mut expected: HashMap<Vec<u8>, u64>,
    report: &mut CheckReport,
) -> Result<(), StoreError> {
    for kv in t.counts.iter() {
        let (k, v) = kv?;
        if k.as_ref() == keys::TOMBSTONES_COUNT_KEY {
            continue;
        }
        let stored = keys::u64_from(&v);
        let want = expected.remove(k.as_ref()).unwrap_or(0);
        if stored != want {
            report.problems.push(format!(
                "counter {}: stored {stored}, the records give {want}",
                String::from_utf8_lossy(&k)
            ));
        }
    }
    for (k, want) in expected {
        report.problems.push(format!(
            "counter {}: missing, the records give {want}",
            String::from_utf8_lossy(&k)
        ));
    }
    Ok(())
}
