//! Key encoding for every sled tree, in one place.
//!
//! Index keys are `[field][value][0x00][created_at: 8 bytes BE, sign-flipped][id: 32]`,
//! so one prefix scan per `(field, value)` walks records in time order and a
//! reverse scan gives newest first. Values never contain 0x00 (validation
//! refuses control characters), and every candidate is re-checked against
//! the record anyway.

use crate::record::RecordId;
use crate::record::terms::Field;

/// Length of the time + id suffix of an index key.
pub(crate) const SUFFIX: usize = 8 + 32;

/// Order-preserving encoding of a signed time.
pub(crate) fn time_bytes(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`time_bytes`].
pub(crate) fn time_from(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    (u64::from_be_bytes(a) ^ (1 << 63)) as i64
}

/// `[field][value][0]`: the prefix of one index value's entries.
pub(crate) fn index_prefix(field: Field, value: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + value.len() + SUFFIX);
    k.push(field as u8);
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    k
}

/// A full index key.
pub(crate) fn index_key(field: Field, value: &str, created_at: i64, id: &RecordId) -> Vec<u8> {
    let mut k = index_prefix(field, value);
    k.extend_from_slice(&time_bytes(created_at));
    k.extend_from_slice(id.as_bytes());
    k
}

/// The `(created_at, id)` at the end of an index key.
pub(crate) fn index_suffix(key: &[u8]) -> Option<(i64, RecordId)> {
    if key.len() < SUFFIX + 2 {
        return None;
    }
    let s = &key[key.len() - SUFFIX..];
    Some((time_from(&s[..8]), RecordId::from_slice(&s[8..])?))
}

/// Stats counter key: `[field][value]`.
pub(crate) fn stat_key(field: Field, value: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + value.len());
    k.push(field as u8);
    k.extend_from_slice(value.as_bytes());
    k
}

/// Stats counter of the records held (the `All` field's key).
pub(crate) fn records_count_key() -> Vec<u8> {
    stat_key(Field::All, "")
}

/// Stats counter of the tombstones held.
pub(crate) const TOMBSTONES_COUNT_KEY: &[u8] = b"#tombstones";

/// Expiry queue key: `[expires_at BE][id]`.
pub(crate) fn expiry_key(expires_at: i64, id: &RecordId) -> Vec<u8> {
    let mut k = time_bytes(expires_at).to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// A query position: the `(created_at, id)` of the last record returned.
pub(crate) fn encode_cursor(t: i64, id: &RecordId) -> String {
    let mut b = time_bytes(t).to_vec();
    b.extend_from_slice(id.as_bytes());
    hex::encode(b)
}

/// Inverse of [`encode_cursor`].
pub(crate) fn decode_cursor(s: &str) -> Option<(i64, RecordId)> {
    let b = hex::decode(s).ok()?;
    if b.len() != SUFFIX {
        return None;
    }
    Some((time_from(&b[..8]), RecordId::from_slice(&b[8..])?))
}

/// Big-endian u64, for sequence numbers and counters.
pub(crate) fn u64_from(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[8 - n..].copy_from_slice(&b[..n]);
    u64::from_be_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Time encoding sorts like the times, negative ones included.
    #[test]
    fn time_order() {
        let ts = [i64::MIN, -5, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for w in ts.windows(2) {
            assert!(time_bytes(w[0]) < time_bytes(w[1]));
            assert_eq!(time_from(&time_bytes(w[0])), w[0]);
        }
    }

    /// Cursors and index suffixes round-trip.
    #[test]
    fn cursor_round_trip() {
        let id = RecordId::of_body(b"r");
        assert_eq!(decode_cursor(&encode_cursor(42, &id)), Some((42, id)));
        assert_eq!(decode_cursor("zz"), None);
        let k = index_key(Field::Species, "manis javanica", 42, &id);
        assert_eq!(index_suffix(&k), Some((42, id)));
        assert!(k.starts_with(&index_prefix(Field::Species, "manis javanica")));
        assert!(!k.starts_with(&index_prefix(Field::Species, "manis")));
    }
}
