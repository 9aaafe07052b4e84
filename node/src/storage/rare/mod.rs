//! Rare terms: the posting entries of terms that a large batch holds only
//! a few of (an offer's URL, its seller's handle and phone, an unusual
//! word) are packed together instead of one posting block each.
//!
//! A term with fewer than [`RARE_BELOW`] entries in a batch of at least
//! [`RARE_BATCH`] records is rare in that batch. The batch's rare terms
//! are spread by a hash of their prefix over `2^bits` rare blocks (about
//! [`PER_BLOCK`] terms each), keyed by [`keys::rare_key`] in the `index`
//! tree. A value is a list of items
//! `[prefix len u16][prefix][entries u16][entries × 16 bytes]`.
//!
//! Reading a term: its own blocks (by prefix) and, of the batches whose
//! filter ([`filters`]) may hold it, the one rare block its hash falls in.
//! Rare blocks exist only for batches of [`RARE_BATCH`] records or more, so
//! the filters are few. Deleting an entry: the batch is known (the row's
//! `index_batch`), so one point read.
//!
//! Crash order: a batch writes its filter, then its blocks (own and
//! rare), then its id entries and rows ([`super::writer`]'s
//! `write_batch`). sled recovers a prefix of its log, so a rare entry that
//! survives a crash may lead to a row that did not: readers skip it, and
//! its position is never handed out again. A rare block never survives
//! without its batch's filter, so no surviving entry is unreachable. A
//! deletion rewrites one block; cut by a crash, the entry stays and leads
//! to a row that is gone. `tests/rare.rs` cuts a bulk batch after its
//! blocks.
//!
//! Why: a bulk batch of listings wrote about two blocks per record for
//! terms only that record holds; sled's cost is per key written.

mod filters;

pub(crate) use filters::{BatchFilter, RareFilters};

use super::{KeyValue, StoreError, Trees, keys};

/// A term with fewer entries than this in a batch is rare there.
pub(crate) const RARE_BELOW: usize = 4;

/// Batches of fewer records keep every term in its own blocks: their
/// rare blocks would be many and small, and every look-up reads them.
pub(crate) const RARE_BATCH: usize = 1024;

/// Rare terms per rare block, on average.
const PER_BLOCK: usize = 16;

/// The most `bits` a batch uses (65,536 blocks).
const MAX_BITS: u8 = 16;

/// The `bits` of a batch with `terms` rare terms.
fn bits_for(terms: usize) -> u8 {
    let blocks = (terms / PER_BLOCK).max(1);
    (blocks.ilog2() as u8).min(MAX_BITS)
}

/// A term's prefix and its entries in one batch.
pub(crate) type TermEntries = (Vec<u8>, Vec<keys::Entry>);

/// Splits a batch's terms (prefix, entries sorted and deduplicated) into
/// those kept in their own blocks and the rare blocks of the others, with
/// the filter of those (to write before them).
pub(crate) fn split(
    terms: Vec<TermEntries>,
    records: usize,
    batch: u64,
) -> (Vec<TermEntries>, Vec<KeyValue>, Option<BatchFilter>) {
    if records < RARE_BATCH {
        return (terms, Vec::new(), None);
    }
    let (rare, own): (Vec<_>, Vec<_>) = terms.into_iter().partition(|(_, e)| e.len() < RARE_BELOW);
    if rare.is_empty() {
        return (own, Vec::new(), None);
    }
    let bits = bits_for(rare.len());
    let filter = BatchFilter::build(batch, bits, rare.iter().map(|(p, _)| p.as_slice()));
    let mut blocks: std::collections::BTreeMap<u16, Vec<u8>> = Default::default();
    for (prefix, entries) in rare {
        push_item(
            blocks.entry(keys::rare_bucket(&prefix, bits)).or_default(),
            &prefix,
            &entries,
        );
    }
    let blocks = blocks
        .into_iter()
        .map(|(b, v)| (keys::rare_key(bits, b, batch).to_vec(), v))
        .collect();
    (own, blocks, Some(filter))
}

/// Appends one item to a rare block's value.
pub(crate) fn push_item(value: &mut Vec<u8>, prefix: &[u8], entries: &[keys::Entry]) {
    let plen = u16::try_from(prefix.len()).unwrap_or(u16::MAX);
    let n = u16::try_from(entries.len()).unwrap_or(u16::MAX);
    value.extend_from_slice(&plen.to_be_bytes());
    value.extend_from_slice(&prefix[..usize::from(plen)]);
    value.extend_from_slice(&n.to_be_bytes());
    for e in &entries[..usize::from(n)] {
        value.extend_from_slice(e);
    }
}

/// The items of a rare block's value: `(prefix, entries bytes)`. A value
/// cut short ends the list instead of being misread.
pub(crate) fn items(value: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
    let mut rest = value;
    std::iter::from_fn(move || {
        let plen = usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?));
        let prefix = rest.get(2..2 + plen)?;
        let at = 2 + plen;
        let n = usize::from(u16::from_be_bytes(rest.get(at..at + 2)?.try_into().ok()?));
        let entries = rest.get(at + 2..at + 2 + n * keys::SUFFIX)?;
        rest = &rest[at + 2 + n * keys::SUFFIX..];
        Some((prefix, entries))
    })
}

/// Every rare entry of the term `prefix`, over all batches.
pub(crate) fn entries(t: &Trees, prefix: &[u8]) -> Result<Vec<keys::Entry>, StoreError> {
    let mut out = Vec::new();
    for (batch, bits) in t.rare.candidates(prefix) {
        let key = keys::rare_key(bits, keys::rare_bucket(prefix, bits), batch);
        let Some(v) = t.index.get(key)? else {
            continue;
        };
        for (p, es) in items(&v) {
            if p == prefix {
                out.extend(es.chunks_exact(keys::SUFFIX).map(entry_of));
            }
        }
    }
    Ok(out)
}

/// Every entry of the term `prefix`: its own blocks', then its rare ones.
pub(crate) fn all_entries(t: &Trees, prefix: &[u8]) -> Result<Vec<keys::Entry>, StoreError> {
    let mut out = Vec::new();
    for kv in t.index.range(prefix.to_vec()..keys::prefix_end(prefix)) {
        let (_, v) = kv?;
        out.extend(v.chunks_exact(keys::SUFFIX).map(entry_of));
    }
    out.extend(entries(t, prefix)?);
    Ok(out)
}

fn entry_of(b: &[u8]) -> keys::Entry {
    let mut e = [0u8; keys::SUFFIX];
    e.copy_from_slice(b);
    e
}

/// Removes the entry `e` of the term `prefix` from the rare blocks of
/// `batch`; true if it was there. An item left empty goes, and so does a
/// block left empty.
pub(crate) fn remove(
    t: &Trees,
    prefix: &[u8],
    e: &keys::Entry,
    batch: u64,
) -> Result<bool, StoreError> {
    let index = &t.index;
    let Some(bits) = t.rare.bits_of(batch) else {
        return Ok(false);
    };
    let key = keys::rare_key(bits, keys::rare_bucket(prefix, bits), batch);
    let Some(v) = index.get(key)? else {
        return Ok(false);
    };
    let Some(kept) = rewritten(&v, |p, list| {
        if p == prefix {
            list.retain(|x| x != e);
        }
    }) else {
        return Ok(false);
    };
    put_block(index, &key, kept)?;
    Ok(true)
}

/// A rare block's value with each item's entries edited by `edit` (an
/// item left empty goes); `None` when no entry was removed.
fn rewritten(v: &[u8], mut edit: impl FnMut(&[u8], &mut Vec<keys::Entry>)) -> Option<Vec<u8>> {
    let mut removed = false;
    let mut kept = Vec::with_capacity(v.len());
    for (p, es) in items(v) {
        let mut list: Vec<keys::Entry> = es.chunks_exact(keys::SUFFIX).map(entry_of).collect();
        let before = list.len();
        edit(p, &mut list);
        removed |= list.len() < before;
        if !list.is_empty() {
            push_item(&mut kept, p, &list);
        }
    }
    removed.then_some(kept)
}

/// Stores a rewritten rare block; one left empty goes.
fn put_block(index: &sled::Tree, key: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
    if value.is_empty() {
        index.remove(key)?;
    } else {
        index.insert(key, value)?;
    }
    Ok(())
}

/// Rewrites up to `max` rare blocks from `from` on, dropping the items
/// whose prefix `stale` says are no longer indexed (correlation keys of an
/// older normaliser). Returns the key to go on from, `None` at the end.
pub(crate) fn drop_items(
    index: &sled::Tree,
    from: &[u8],
    max: usize,
    stale: impl Fn(&[u8]) -> bool,
) -> Result<Option<Vec<u8>>, StoreError> {
    let from = if from.is_empty() {
        vec![keys::RARE]
    } else {
        from.to_vec()
    };
    let chunk: Vec<(sled::IVec, sled::IVec)> = index
        .range(from..vec![keys::RARE + 1])
        .take(max)
        .collect::<Result<_, _>>()?;
    for (k, v) in &chunk {
        let edited = rewritten(v, |p, list| {
            if stale(p) {
                list.clear();
            }
        });
        if let Some(kept) = edited {
            put_block(index, k, kept)?;
        }
    }
    if chunk.len() < max {
        return Ok(None);
    }
    Ok(chunk.last().map(|(k, _)| {
        let mut next = k.to_vec();
        next.push(0);
        next
    }))
}

/// The rare items of every block, for a full scan: `(prefix, entries)`
/// per item, in key order of the blocks.
pub(crate) fn scan(
    index: &sled::Tree,
) -> impl Iterator<Item = Result<Vec<(Vec<u8>, usize)>, StoreError>> + '_ {
    index
        .range(vec![keys::RARE]..vec![keys::RARE + 1])
        .map(|kv| {
            let (_, v) = kv?;
            Ok(items(&v)
                .map(|(p, es)| (p.to_vec(), es.len() / keys::SUFFIX))
                .collect())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::terms::Field;

    fn temp_trees() -> (tempfile::TempDir, Trees) {
        let dir = tempfile::tempdir().expect("tmp");
        let db = sled::Config::new()
            .path(dir.path())
            .temporary(true)
            .open()
            .expect("sled");
        let t = Trees::open(db).expect("trees");
        (dir, t)
    }

    fn term(i: usize) -> Vec<u8> {
        keys::index_prefix(Field::Selector, &format!("url:https://shop.example/{i}"))
    }

    fn write(t: &Trees, (blocks, filter): (Vec<KeyValue>, Option<BatchFilter>)) {
        if let Some(f) = filter {
            t.rare.write(&t.index, f).expect("filter");
        }
        for (k, v) in blocks {
            t.index.insert(k, v).expect("insert");
        }
    }

    /// In a large batch, terms with few entries go to a few rare blocks
    /// and come back whole; common terms keep their own blocks; a small
    /// batch keeps every term.
    #[test]
    fn rare_terms_pack_and_read_back() {
        let (_d, t) = temp_trees();
        let common = keys::index_prefix(Field::Species, "manis javanica");
        let mut terms: Vec<(Vec<u8>, Vec<keys::Entry>)> = (0..3000)
            .map(|i| (term(i), vec![keys::entry(i as i64, i as u64)]))
            .collect();
        terms.push((
            common.clone(),
            (0..10).map(|i| keys::entry(i, i as u64)).collect(),
        ));
        let (own, rare, filter) = split(terms.clone(), RARE_BATCH, 7);
        assert_eq!(own.len(), 1);
        assert_eq!(own[0].0, common);
        // 3,000 terms in 128 blocks (2^7), not 3,000.
        assert_eq!(
            (rare.len(), filter.as_ref().map(|f| f.bits)),
            (128, Some(7))
        );
        write(&t, (rare, filter));
        for i in [0, 1, 1500, 2999] {
            assert_eq!(
                entries(&t, &term(i)).expect("read"),
                vec![keys::entry(i as i64, i as u64)]
            );
        }
        assert!(entries(&t, &term(3000)).expect("read").is_empty());
        assert!(entries(&t, &common).expect("read").is_empty());
        // A second batch's entries of the same term are found too.
        let (_, rare, filter) = split(
            vec![(term(5), vec![keys::entry(99, 99)])]
                .into_iter()
                .chain((10_000..10_040).map(|i| (term(i), vec![keys::entry(1, i as u64)])))
                .collect(),
            RARE_BATCH,
            8,
        );
        assert_eq!(filter.as_ref().map(|f| f.bits), Some(1));
        write(&t, (rare, filter));
        let mut found = entries(&t, &term(5)).expect("read");
        found.sort();
        assert_eq!(found, vec![keys::entry(5, 5), keys::entry(99, 99)]);
        // A batch under RARE_BATCH records keeps every term its own.
        let (own, rare, filter) = split(terms, RARE_BATCH - 1, 9);
        assert_eq!((own.len(), rare.len()), (3001, 0));
        assert!(filter.is_none());
        // Both batches' filters are stored and read back at open.
        let loaded = RareFilters::load(&t.index).expect("load");
        assert_eq!(loaded.candidates(&term(5)), vec![(7, 7), (8, 1)]);
        assert_eq!(loaded.bits_of(8), Some(1));
    }

    /// Removing an entry finds it in its batch's block; the item and the
    /// block go when empty; other entries stay.
    #[test]
    fn removal_rewrites_only_its_block() {
        let (_d, t) = temp_trees();
        let terms: Vec<(Vec<u8>, Vec<keys::Entry>)> = (0..40)
            .map(|i| {
                (
                    term(i),
                    vec![keys::entry(1, i as u64), keys::entry(2, 100 + i as u64)],
                )
            })
            .collect();
        let (_, rare, filter) = split(terms, RARE_BATCH, 3);
        assert_eq!(rare.len(), 2);
        write(&t, (rare, filter));
        assert!(remove(&t, &term(7), &keys::entry(1, 7), 3).expect("rm"));
        assert!(!remove(&t, &term(7), &keys::entry(1, 7), 3).expect("rm"));
        assert!(!remove(&t, &term(8), &keys::entry(1, 8), 4).expect("other batch"));
        assert_eq!(entries(&t, &term(7)).expect("r"), vec![keys::entry(2, 107)]);
        assert!(remove(&t, &term(7), &keys::entry(2, 107), 3).expect("rm"));
        assert!(entries(&t, &term(7)).expect("r").is_empty());
        assert_eq!(entries(&t, &term(8)).expect("r").len(), 2);
        for i in 0..40 {
            for e in [keys::entry(1, i), keys::entry(2, 100 + i)] {
                remove(&t, &term(i as usize), &e, 3).expect("rm");
            }
        }
        // Only the batch's filter is left.
        assert_eq!(t.index.len(), 1);
    }

    /// Stale items are dropped a step at a time; the rest stay.
    #[test]
    fn stale_items_are_dropped_in_steps() {
        let (_d, t) = temp_trees();
        let old = |i: usize| {
            let mut p = term(i);
            p[1] = 1;
            p
        };
        let terms: Vec<(Vec<u8>, Vec<keys::Entry>)> = (0..200)
            .flat_map(|i| {
                [
                    (term(i), vec![keys::entry(1, i as u64)]),
                    (old(i), vec![keys::entry(1, i as u64)]),
                ]
            })
            .collect();
        let (_, rare, filter) = split(terms, RARE_BATCH, 1);
        write(&t, (rare, filter));
        let mut from = Vec::new();
        let mut steps = 0;
        while let Some(next) = drop_items(&t.index, &from, 5, |p| p[1] == 1).expect("drop") {
            from = next;
            steps += 1;
        }
        assert!(steps > 1);
        let left: Vec<(Vec<u8>, usize)> = scan(&t.index).flat_map(|r| r.expect("scan")).collect();
        assert_eq!(left.len(), 200);
        assert!(left.iter().all(|(p, n)| p[1] != 1 && *n == 1));
        // A cut-off value ends the items instead of misreading them.
        let mut v = Vec::new();
        push_item(&mut v, &term(1), &[keys::entry(1, 1)]);
        assert_eq!(items(&v).count(), 1);
        assert_eq!(items(&v[..v.len() - 1]).count(), 0);
    }
}
