//! Correlation reads: which records hold a correlation key, and how many
//! entries each key has (for `correlate --top`). The index is an inverted
//! index key → records; pairs of records are never stored. And the records
//! of one coordinated operation (indexed by the proposal's id).

use super::{Query, Store, StoreError, Stored, keys, rare};
use crate::record::terms::Field;

impl Store {
    /// The newest `limit` current records holding a correlation key
    /// (`kind:value`), and whether more exist.
    pub fn holding(&self, key: &str, limit: usize) -> Result<(Vec<Stored>, bool), StoreError> {
        let page = self.query(&Query {
            terms: vec![(Field::Selector, key.to_string())],
            limit,
            ..Default::default()
        })?;
        Ok((page.records, page.next.is_some()))
    }

    /// Every correlation key of this normaliser with its number of index
    /// entries (records, older versions included), from one scan of the
    /// selector index.
    pub fn selector_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut out: std::collections::BTreeMap<String, u64> = Default::default();
        let index = &self.trees().index;
        for kv in index.range(keys::selector_keys_of(keys::NORMALISER)) {
            let (k, v) = kv?;
            let Some(value) = keys::selector_key_value(&k) else {
                continue;
            };
            *out.entry(value.to_string()).or_default() += (v.len() / keys::SUFFIX) as u64;
        }
        let ours = keys::index_prefix(Field::Selector, "");
        let ours = &ours[..ours.len() - 1];
        for items in rare::scan(index) {
            for (prefix, n) in items? {
                let value = prefix
                    .strip_prefix(ours)
                    .and_then(|v| v.strip_suffix(&[0]))
                    .and_then(|v| std::str::from_utf8(v).ok());
                if let Some(value) = value {
                    *out.entry(value.to_string()).or_default() += n as u64;
                }
            }
        }
        Ok(out.into_iter().collect())
    }
}

impl Store {
    /// The feed positions of records holding a correlation key (its rare
    /// entries, then its blocks newest first), at most `cap`; true when
    /// more exist. Reads posting
    /// blocks only (no record is decoded): the cheap first look of the
    /// alert check, where most values are held by one record.
    pub fn postings(&self, key: &str, cap: usize) -> Result<(Vec<u64>, bool), StoreError> {
        let prefix = keys::index_prefix(Field::Selector, key);
        let hi = keys::prefix_end(&prefix);
        let index = &self.trees().index;
        let mut out: Vec<u64> = rare::entries(self.trees(), &prefix)?
            .iter()
            .map(keys::entry_seq)
            .collect();
        if out.len() > cap {
            out.truncate(cap);
            return Ok((out, true));
        }
        for kv in index.range(prefix..hi).rev() {
            let (_, v) = kv?;
            for e in v.chunks_exact(keys::SUFFIX) {
                if out.len() == cap {
                    return Ok((out, true));
                }
                out.push(keys::u64_from(&e[8..]));
            }
        }
        Ok((out, false))
    }

    /// Every record held of the operation whose proposal is `op` (hex):
    /// the proposal, responses and updates, newest first. An operation
    /// past `MAX_OPERATION_RECORDS` records is cut there (with a warning).
    pub fn operation_records(&self, op: &str) -> Result<Vec<Stored>, StoreError> {
        let mut q = Query {
            terms: vec![(Field::Operation, op.to_string())],
            limit: 1000,
            ..Default::default()
        };
        let mut out = Vec::new();
        loop {
            let page = self.query(&q)?;
            out.extend(page.records);
            match page.next.as_deref().and_then(Query::after_token) {
                Some(after) if out.len() < MAX_OPERATION_RECORDS => q.after = Some(after),
                Some(_) => {
                    tracing::warn!(operation = op, "operation has too many records: cut");
                    break;
                }
                None => break,
            }
        }
        Ok(out)
    }
}

/// The most records of one operation read for its board and its audience.
pub(super) const MAX_OPERATION_RECORDS: usize = 10_000;
