//! Key encoding for every sled tree, in one place.
//!
//! Records are stored by feed sequence number (`seq_record`, appended in
//! order) and found by id through `id_seq`.
//!
//! The index is made of **posting blocks**: one key per `(field, value)` and
//! group-commit batch, `[field][value][0x00][max time][min time][batch]`
//! (times 8 bytes BE sign-flipped, batch 8 bytes BE), whose value is the
//! batch's entries for that term, each `[created_at][seq]` (16 bytes),
//! ascending. A reverse scan of a term's blocks by max time, merging their
//! entries, walks its records newest first. Values never contain 0x00
//! (validation refuses control characters), and every candidate is
//! re-checked against the record anyway. A batch's entries for a term are
//! cut into blocks of at most [`BLOCK_ENTRIES`] (`[part]` ends the key).
//! `batch_block` lists, per batch and bucket of terms, the keys of the
//! blocks the batch wrote, so a deletion finds the block holding a record's
//! entry for each term.

use super::KeyValue;
use crate::record::RecordId;
use crate::record::terms::Field;

/// Length of a `(time, seq)` position: a posting entry, a query cursor.
pub(crate) const SUFFIX: usize = 8 + 8;

/// A posting entry (and a position): `[created_at][seq]`.
pub(crate) type Entry = [u8; SUFFIX];

/// Order-preserving encoding of a signed time.
pub(crate) fn time_bytes(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`time_bytes`] (reads the first 8 bytes).
pub(crate) fn time_from(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    (u64::from_be_bytes(a) ^ (1 << 63)) as i64
}

/// `[field][value][0]`: the prefix of one index value's entries. A
/// selector's is `[field][normaliser][key][0]`: the version of the
/// normaliser that computed its correlation key (a byte below 0x20; keys
/// from before versions, normaliser 1, start with a letter), so keys of an
/// older normaliser can be told apart and dropped after a re-index.
pub(crate) fn index_prefix(field: Field, value: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(3 + value.len() + SUFFIX);
    k.push(field as u8);
    if field == Field::Selector {
        k.push(NORMALISER);
    }
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    k
}

/// The first index key of selector keys written by normaliser `version`
/// (normaliser 1 wrote no version byte: its keys start at 0x20).
pub(crate) fn selector_keys_of(version: u8) -> std::ops::Range<Vec<u8>> {
    let f = Field::Selector as u8;
    if version <= 1 {
        vec![f, 0x20]..vec![f + 1]
    } else {
        vec![f, version]..vec![f, version + 1]
    }
}

/// The correlation key of a selector posting block's key (this
/// normaliser's).
pub(crate) fn selector_key_value(key: &[u8]) -> Option<&str> {
    let end = key.len().checked_sub(BLOCK_TAIL + 1)?;
    let value = key.get(2..end)?;
    std::str::from_utf8(value).ok()
}

/// The version of the normaliser that computes selector keys.
pub(crate) use crate::record::selector::NORMALISER;

/// The posting entry of a record stored at feed position `seq`.
pub(crate) fn entry(created_at: i64, seq: u64) -> Entry {
    let mut e = [0u8; SUFFIX];
    e[..8].copy_from_slice(&time_bytes(created_at));
    e[8..].copy_from_slice(&seq.to_be_bytes());
    e
}

/// The feed position of a posting entry.
pub(crate) fn entry_seq(e: &Entry) -> u64 {
    u64_from(&e[8..])
}

/// The smallest entry at time `t` (every entry at `t` is >= it).
pub(crate) fn entry_floor(t: i64) -> Entry {
    let mut e = [0u8; SUFFIX];
    e[..8].copy_from_slice(&time_bytes(t));
    e
}

/// Length of the `[max][min][batch][part]` tail of a block key.
const BLOCK_TAIL: usize = 26;

/// Most entries in one posting block: small values keep sled's
/// copy-on-write nodes cheap.
pub(crate) const BLOCK_ENTRIES: usize = 64;

/// A posting block's key.
pub(crate) fn block_key(prefix: &[u8], max: i64, min: i64, batch: u64, part: u16) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + BLOCK_TAIL);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&time_bytes(max));
    k.extend_from_slice(&time_bytes(min));
    k.extend_from_slice(&batch.to_be_bytes());
    k.extend_from_slice(&part.to_be_bytes());
    k
}

/// The term prefix of a block key (the key without its tail).
pub(crate) fn block_prefix(key: &[u8]) -> Option<&[u8]> {
    key.get(..key.len().checked_sub(BLOCK_TAIL)?)
}

/// The `(max, min)` times of a block key.
pub(crate) fn block_bounds(key: &[u8]) -> Option<(i64, i64)> {
    let tail = key.get(key.len().checked_sub(BLOCK_TAIL)?..)?;
    Some((time_from(&tail[..8]), time_from(&tail[8..16])))
}

/// The blocks of one batch for one term: `(block key, value)`, entries
/// sorted, deduplicated and cut into parts of at most [`BLOCK_ENTRIES`].
pub(crate) fn blocks(prefix: &[u8], entries: &mut Vec<Entry>, batch: u64) -> Vec<KeyValue> {
    blocks_from(prefix, entries, batch, 0)
}

/// [`blocks`] with parts numbered from `first_part`.
pub(crate) fn blocks_from(
    prefix: &[u8],
    entries: &mut Vec<Entry>,
    batch: u64,
    first_part: u16,
) -> Vec<KeyValue> {
    entries.sort_unstable();
    entries.dedup();
    entries
        .chunks(BLOCK_ENTRIES)
        .enumerate()
        .filter_map(|(part, chunk)| {
            let (first, last) = (chunk.first()?, chunk.last()?);
            let part = u16::try_from(part)
                .unwrap_or(u16::MAX)
                .saturating_add(first_part);
            let key = block_key(prefix, time_from(last), time_from(first), batch, part);
            Some((key, chunk.concat()))
        })
        .collect()
}

/// The first key after every key starting with `prefix` (which ends with
/// the 0x00 separator).
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    if let Some(last) = k.last_mut() {
        *last = 1;
    }
    k
}

/// Buckets of block references per batch (see [`block_ref_key`]).
const REF_BUCKETS: u32 = 16;

/// The `batch_block` key listing the blocks of `batch` for the terms that
/// hash to the same bucket as `prefix`: `[batch][bucket]`. A batch writes
/// [`REF_BUCKETS`] references at most, however many terms it indexes, and
/// a deletion reads one of them to find its term's blocks.
pub(crate) fn block_ref_key(batch: u64, prefix: &[u8]) -> [u8; 9] {
    let h = fnv1a(prefix);
    let mut k = [0u8; 9];
    k[..8].copy_from_slice(&batch.to_be_bytes());
    k[8] = (h % REF_BUCKETS) as u8;
    k
}

/// FNV-1a of a term prefix: stable across versions, as buckets derived
/// from it are stored.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// First byte of a rare block's key (below every field byte, so rare
/// blocks never mix with a term's own blocks).
pub(crate) const RARE: u8 = 0x01;

/// A rare block's key: `[RARE][bits][bucket u16][batch u64]`, the block of
/// `batch` for the terms in `bucket` of `2^bits` ([`super::rare`]).
pub(crate) fn rare_key(bits: u8, bucket: u16, batch: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[0] = RARE;
    k[1] = bits;
    k[2..4].copy_from_slice(&bucket.to_be_bytes());
    k[4..].copy_from_slice(&batch.to_be_bytes());
    k
}

/// First byte of a batch's rare-term filter key (just above the rare
/// blocks).
pub(crate) const RARE_FILTER: u8 = RARE + 1;

/// The key of a batch's rare-term filter: `[RARE_FILTER][batch]`.
pub(crate) fn rare_filter_key(batch: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = RARE_FILTER;
    k[1..].copy_from_slice(&batch.to_be_bytes());
    k
}

/// The bucket of the term `prefix` among `2^bits` (`bits` ≤ 16).
pub(crate) fn rare_bucket(prefix: &[u8], bits: u8) -> u16 {
    if bits == 0 {
        return 0;
    }
    (fnv1a(prefix) >> (32 - u32::from(bits.min(16)))) as u16
}

/// Appends a block key to a `batch_block` value (`[len u16][key]…`).
pub(crate) fn push_block_ref(list: &mut Vec<u8>, key: &[u8]) {
    let len = u16::try_from(key.len()).unwrap_or(u16::MAX);
    list.extend_from_slice(&len.to_be_bytes());
    list.extend_from_slice(&key[..usize::from(len)]);
}

/// The block keys of a `batch_block` value that belong to the term
/// `prefix`.
pub(crate) fn block_refs_of<'a>(
    list: &'a [u8],
    prefix: &'a [u8],
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = list;
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?));
        let key = rest.get(2..2 + len)?;
        rest = &rest[2 + len..];
        Some(key)
    })
    .filter(move |k| k.len() == prefix.len() + BLOCK_TAIL && k.starts_with(prefix))
}

/// The index prefix of a draft digest's entries: `[DRAFT][hex][0]` (below
/// every field byte: no query reaches it).
pub(crate) fn draft_prefix(digest: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + 64);
    k.push(DRAFT);
    k.extend_from_slice(hex::encode(digest).as_bytes());
    k.push(0);
    k
}

/// First byte of a draft digest's index entries.
const DRAFT: u8 = 0x03;

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

/// A query position: the `(created_at, seq)` of the last record returned.
pub(crate) fn encode_cursor(t: i64, seq: u64) -> String {
    hex::encode(entry(t, seq))
}

/// Inverse of [`encode_cursor`].
pub(crate) fn decode_cursor(s: &str) -> Option<(i64, u64)> {
    let b = hex::decode(s).ok()?;
    if b.len() != SUFFIX {
        return None;
    }
    Some((time_from(&b[..8]), u64_from(&b[8..])))
}

/// Big-endian u64, for sequence numbers and counters.
pub(crate) fn u64_from(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[8 - n..].copy_from_slice(&b[..n]);
    u64::from_be_bytes(a)
}

/// `meta`: how far a peer's feed is pulled.
pub(crate) fn cursor_key(peer: &str) -> Vec<u8> {
    format!("cursor:{peer}").into_bytes()
}

/// `meta`: this node's policy towards a peer, as last in force.
pub(crate) fn policy_key(peer: &str) -> Vec<u8> {
    format!("policy:{peer}").into_bytes()
}

/// `meta`: the policy epoch a peer last announced towards this node.
pub(crate) fn epoch_key(peer: &str) -> Vec<u8> {
    format!("epoch:{peer}").into_bytes()
}

/// `meta`: a re-pull of a peer's feed from the start, asked for (why).
pub(crate) fn repull_key(peer: &str) -> Vec<u8> {
    format!("repull:{peer}").into_bytes()
}

/// `meta`: the manifest adopted last.
pub(crate) const MANIFEST_KEY: &[u8] = b"manifest";

/// `peerseq_receipt`: the queue of one peer.
pub(crate) fn outbox_prefix(peer: &str) -> Vec<u8> {
    let mut k = peer.as_bytes().to_vec();
    k.push(0);
    k
}

/// `peerseq_receipt`: receipt number `n` queued for a peer.
pub(crate) fn outbox_key(peer: &str, n: u64) -> Vec<u8> {
    let mut k = outbox_prefix(peer);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// `idholder_receipt`: record id + holder agency.
pub(crate) fn holder_key(id: &RecordId, holder: &str) -> Vec<u8> {
    let mut k = id.as_bytes().to_vec();
    k.extend_from_slice(holder.as_bytes());
    k
}

/// `meta` key: the feed's high-water mark, the next sequence number to
/// hand out. Written before a batch's index entries, so no number whose
/// entries may have reached the disk is ever handed out twice, and the
/// feed head never goes back when its last records are deleted.
pub(crate) const NEXT_SEQ_KEY: &str = "next_seq";

/// `meta`: what a restore adds to sled's id generator (see `Trees::next_id`).
pub(crate) const ID_FLOOR_KEY: &str = "id_floor";

/// `meta` key: 1 once the writer stopped cleanly, 0 while running.
pub(crate) const CLEAN_KEY: &str = "clean";

/// `meta` key: the schema version of the data dir.
pub(crate) const SCHEMA_KEY: &str = "schema";

/// `meta` key: the agency that owns the data dir.
pub(crate) const OWNER_KEY: &str = "agency";

/// `meta` key: the feed position up to which stored records have been
/// checked for alerts (8 bytes BE).
pub(crate) const ALERT_MARK_KEY: &str = "alert_mark";

/// `recordkey_alert` key: record id, then the correlation key.
pub(crate) fn alert_key(record: &RecordId, key: &str) -> Vec<u8> {
    let mut k = record.as_bytes().to_vec();
    k.extend_from_slice(key.as_bytes());
    k
}

/// `meta` key: the deconfliction filter's state ([`super::FilterState`]).
pub(crate) const FILTER_KEY: &str = "deconfliction_filter";

/// `epochtoken_key` / `epochseq_token` key: an epoch, then 16 or 8 bytes.
pub(crate) fn filter_epoch_key(epoch: u64, rest: &[u8]) -> Vec<u8> {
    let mut k = epoch.to_be_bytes().to_vec();
    k.extend_from_slice(rest);
    k
}

/// `peerkey_followup` key: peer, 0, correlation key.
pub(crate) fn followup_key(peer: &str, key: &str) -> Vec<u8> {
    let mut k = peer.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// `meta` key: the normaliser version (1 byte) whose correlation keys
/// index every record; absent in data dirs from before versions (1).
pub(crate) const NORMALISER_KEY: &str = "selector_normaliser";

/// `meta` key, while selectors are re-indexed: `[next seq][until seq]`
/// (8 + 8 bytes BE): rows from `next` up to, not including, `until` still
/// need their correlation keys of [`NORMALISER`].
pub(crate) const REINDEX_KEY: &str = "selector_reindex";

/// `meta` key, while older correlation keys are dropped from rare blocks:
/// the rare block key to go on from.
pub(crate) const REINDEX_RARE_KEY: &str = "selector_reindex_rare";

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
        assert_eq!(decode_cursor(&encode_cursor(42, 7)), Some((42, 7)));
        assert_eq!(
            decode_cursor(&encode_cursor(-5, u64::MAX)),
            Some((-5, u64::MAX))
        );
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor(&hex::encode([1u8; 40])), None);
        let e = entry(42, 7);
        assert_eq!(entry_seq(&e), 7);
        assert!(entry_floor(42) <= e && e < entry_floor(43));
        assert!(entry(42, 7) < entry(42, 8) && entry(42, u64::MAX) < entry(43, 0));
        let p = index_prefix(Field::Species, "manis javanica");
        let k = block_key(&p, 50, 42, 7, 0);
        assert_eq!(block_bounds(&k), Some((50, 42)));
        assert!(k.starts_with(&p));
        assert!(!k.starts_with(&index_prefix(Field::Species, "manis")));
        assert!(k.as_slice() < prefix_end(&p).as_slice());
        assert!(
            index_prefix(Field::Species, "manis javanicb").as_slice() > prefix_end(&p).as_slice()
        );
        // Blocks of a term sort by their max time.
        assert!(block_key(&p, 49, 0, 9, 0) < k && k < block_key(&p, 51, 0, 1, 0));
        // Parts of at most BLOCK_ENTRIES, deduplicated.
        let mut es: Vec<Entry> = (0..150).map(|i| entry(1000 - i, i as u64)).collect();
        es.push(es[3]);
        let b = blocks(&p, &mut es, 7);
        assert_eq!(b.len(), 3);
        assert_eq!(b.iter().map(|x| x.1.len() / SUFFIX).sum::<usize>(), 150);
        assert_eq!(block_bounds(&b[0].0), Some((914, 851)));
    }

    #[test]
    fn block_references_find_exactly_the_terms_blocks() {
        let p = index_prefix(Field::Species, "manis");
        let longer = index_prefix(Field::Species, "manis javanica");
        let other = index_prefix(Field::Word, "manis");
        let mut list = Vec::new();
        let mine = [block_key(&p, 50, 42, 7, 0), block_key(&p, 60, 51, 7, 1)];
        for k in [
            &mine[0],
            &block_key(&longer, 50, 42, 7, 0),
            &block_key(&other, 5, 1, 7, 0),
            &mine[1],
        ] {
            push_block_ref(&mut list, k);
        }
        let found: Vec<&[u8]> = block_refs_of(&list, &p).collect();
        assert_eq!(found, vec![mine[0].as_slice(), mine[1].as_slice()]);
        assert_eq!(
            block_refs_of(&list, &index_prefix(Field::Tag, "x")).count(),
            0
        );
        // A cut-off value ends the list instead of misreading it.
        assert_eq!(block_refs_of(&list[..list.len() - 3], &p).count(), 1);
        assert_eq!(block_refs_of(&[], &p).count(), 0);
        // The bucket is stable and per batch.
        let k = block_ref_key(7, &p);
        assert_eq!(&k[..8], &7u64.to_be_bytes());
        assert_eq!(k, block_ref_key(7, &p));
        assert!(k[8] < REF_BUCKETS as u8);
        let spread: std::collections::HashSet<u8> = (0..200)
            .map(|i| block_ref_key(1, &index_prefix(Field::Word, &format!("w{i}")))[8])
            .collect();
        assert_eq!(spread.len(), REF_BUCKETS as usize);
    }
}
