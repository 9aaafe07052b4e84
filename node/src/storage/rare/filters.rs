//! Per-batch filters of rare terms: a look-up asks each batch's filter
//! whether it may hold the term and reads the one rare block of the
//! batches that say yes, so its cost does not grow with the rare blocks
//! of other terms. Each filter is a binary fuse filter (`xorf`: 9–11 bits
//! a term, 0.4 % false positives) built once with its batch, stored under
//! `[RARE_FILTER][batch]` in `index` before the batch's rare blocks, and
//! loaded at open (about 1.3 MB per million rare terms).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use xorf::{BinaryFuse8, Descriptor, DmaSerializable, Filter};

use crate::storage::{KeyValue, StoreError, keys};

/// The filter of one batch's rare terms.
#[derive(Debug, Clone)]
pub(crate) struct BatchFilter {
    /// The batch.
    pub(crate) batch: u64,
    /// Its rare blocks are `2^bits`.
    pub(crate) bits: u8,
    /// `None` when the filter could not be built (duplicate hashes): every
    /// look-up then reads the batch's block.
    filter: Option<BinaryFuse8>,
}

impl BatchFilter {
    /// The filter of the terms whose prefixes are `prefixes`.
    pub(crate) fn build<'a>(
        batch: u64,
        bits: u8,
        prefixes: impl Iterator<Item = &'a [u8]>,
    ) -> BatchFilter {
        let mut hashes: Vec<u64> = prefixes.map(hash).collect();
        hashes.sort_unstable();
        hashes.dedup();
        BatchFilter {
            batch,
            bits,
            filter: BinaryFuse8::try_from(&hashes).ok(),
        }
    }

    /// Whether the batch may hold the term whose prefix hashes to `h`.
    fn may_hold(&self, h: u64) -> bool {
        self.filter.as_ref().is_none_or(|f| f.contains(&h))
    }

    /// Its key and value: `[bits][1][descriptor][fingerprints]`, or
    /// `[bits][0]` without a filter.
    pub(crate) fn key_value(&self) -> KeyValue {
        let mut v = vec![self.bits];
        match &self.filter {
            Some(f) => {
                v.push(1);
                let mut d = [0u8; Descriptor::DMA_LEN];
                f.dma_copy_descriptor_to(&mut d);
                v.extend_from_slice(&d);
                v.extend_from_slice(f.dma_fingerprints());
            }
            None => v.push(0),
        }
        (keys::rare_filter_key(self.batch).to_vec(), v)
    }

    /// Inverse of [`BatchFilter::key_value`].
    fn decode(key: &[u8], v: &[u8]) -> Option<BatchFilter> {
        let batch = keys::u64_from(key.get(1..9)?);
        let (&bits, rest) = v.split_first()?;
        let filter = match rest.split_first()? {
            (0, _) => None,
            (_, f) => {
                let d = f.get(..Descriptor::DMA_LEN)?;
                let u32_at = |i: usize| -> Option<u32> {
                    Some(u32::from_le_bytes(d.get(i..i + 4)?.try_into().ok()?))
                };
                let descriptor = Descriptor {
                    seed: u64::from_le_bytes(d.get(..8)?.try_into().ok()?),
                    segment_length: u32_at(8)?,
                    segment_length_mask: u32_at(12)?,
                    segment_count_length: u32_at(16)?,
                };
                let fingerprints = f[Descriptor::DMA_LEN..].to_vec().into_boxed_slice();
                Some(BinaryFuse8 {
                    descriptor,
                    fingerprints,
                })
            }
        };
        Some(BatchFilter {
            batch,
            bits,
            filter,
        })
    }
}

/// Every batch's filter, shared by the writer and the readers.
#[derive(Debug, Clone, Default)]
pub(crate) struct RareFilters(Arc<RwLock<BTreeMap<u64, BatchFilter>>>);

impl RareFilters {
    /// The filters stored in `index`.
    pub(crate) fn load(index: &sled::Tree) -> Result<RareFilters, StoreError> {
        let mut all = BTreeMap::new();
        for kv in index.scan_prefix([keys::RARE_FILTER]) {
            let (k, v) = kv?;
            let f = BatchFilter::decode(&k, &v).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "rare-term filter {} does not decode",
                    hex::encode(&k)
                ))
            })?;
            all.insert(f.batch, f);
        }
        Ok(RareFilters(Arc::new(RwLock::new(all))))
    }

    /// Writes a batch's filter to `index` (before its blocks: a block that
    /// reaches the disk is never unread) and holds it.
    pub(crate) fn write(&self, index: &sled::Tree, f: BatchFilter) -> Result<(), StoreError> {
        let (k, v) = f.key_value();
        index.insert(k, v)?;
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(f.batch, f);
        Ok(())
    }

    /// The `(batch, bits)` of the batches that may hold the term `prefix`.
    pub(crate) fn candidates(&self, prefix: &[u8]) -> Vec<(u64, u8)> {
        let h = hash(prefix);
        let all = self.0.read().unwrap_or_else(|p| p.into_inner());
        all.values()
            .filter(|f| f.may_hold(h))
            .map(|f| (f.batch, f.bits))
            .collect()
    }

    /// The `bits` of a batch's rare blocks, if it has any.
    pub(crate) fn bits_of(&self, batch: u64) -> Option<u8> {
        let all = self.0.read().unwrap_or_else(|p| p.into_inner());
        all.get(&batch).map(|f| f.bits)
    }

    /// Forgets every filter (the index was cleared).
    pub(crate) fn clear(&self) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// FNV-1a, 64 bits, of a term prefix: stable across versions, as filters
/// of it are stored.
fn hash(prefix: &[u8]) -> u64 {
    prefix.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A filter holds its terms, rarely another, and reads back equal.
    #[test]
    fn filters_hold_their_terms_and_round_trip() {
        let terms: Vec<Vec<u8>> = (0..5000).map(|i| format!("w{i}\0").into_bytes()).collect();
        let f = BatchFilter::build(42, 8, terms.iter().map(Vec::as_slice));
        let (k, v) = f.key_value();
        assert!(v.len() < 5000 * 12 / 8, "{} bytes for 5,000 terms", v.len());
        let back = BatchFilter::decode(&k, &v).expect("decode");
        assert_eq!((back.batch, back.bits), (42, 8));
        for t in &terms {
            assert!(back.may_hold(hash(t)));
        }
        let others = (5000..15000)
            .filter(|i| back.may_hold(hash(format!("w{i}\0").as_bytes())))
            .count();
        assert!(others < 100, "{others} false positives in 10,000");
        let all = RareFilters::default();
        all.0.write().expect("lock").insert(42, back);
        assert_eq!(all.candidates(&terms[7]), vec![(42, 8)]);
        assert_eq!(all.bits_of(42), Some(8));
        assert_eq!(all.bits_of(43), None);
        // Without a filter, every term may be held; it round-trips too.
        let none = BatchFilter {
            batch: 7,
            bits: 3,
            filter: None,
        };
        let (k, v) = none.key_value();
        let back = BatchFilter::decode(&k, &v).expect("decode");
        assert!(back.filter.is_none() && back.may_hold(1));
        assert!(BatchFilter::decode(&k, &[]).is_none());
    }
}
