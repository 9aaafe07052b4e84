//! The machine's own limits, measured in-process, so that the benchmark
//! reports each figure against a limit taken in the same run on the same
//! machine (shared machines drift; ratios hold).

use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Bytes per signed message in the signature measurements (a typical
/// listing record).
pub const MESSAGE_BYTES: usize = 600;
/// Signatures per batch in the batch measurements.
pub const BATCH: usize = 64;

fn corpus(n: usize) -> (Vec<Vec<u8>>, Vec<Signature>, Vec<VerifyingKey>) {
    let mut msgs = Vec::with_capacity(n);
    let mut sigs = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        let key = SigningKey::from_bytes(&Sha256::digest((i as u64).to_le_bytes()).into());
        let msg: Vec<u8> = (0..MESSAGE_BYTES)
            .map(|j| (i.wrapping_mul(31).wrapping_add(j)) as u8)
            .collect();
        sigs.push(key.sign(&msg));
        keys.push(key.verifying_key());
        msgs.push(msg);
    }
    (msgs, sigs, keys)
}

/// Ed25519 verifications per second on one core, one at a time.
pub fn ed25519_single(budget: Duration) -> f64 {
    let (msgs, sigs, keys) = corpus(256);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for i in 0..msgs.len() {
            if keys[i].verify_strict(&msgs[i], &sigs[i]).is_ok() {
                n += 1;
            }
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn batch_rate(budget: Duration) -> (u64, f64) {
    let (msgs, sigs, keys) = corpus(BATCH * 4);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for c in 0..4 {
            let r = c * BATCH..(c + 1) * BATCH;
            let m: Vec<&[u8]> = msgs[r.clone()].iter().map(Vec::as_slice).collect();
            if ed25519_dalek::verify_batch(&m, &sigs[r.clone()], &keys[r]).is_ok() {
                n += BATCH as u64;
            }
        }
    }
    (n, start.elapsed().as_secs_f64())
}

/// Ed25519 verifications per second on one core, in batches of [`BATCH`].
pub fn ed25519_batch(budget: Duration) -> f64 {
    let (n, secs) = batch_rate(budget);
    n as f64 / secs
}

/// Ed25519 verifications per second in batches on every core.
pub fn ed25519_batch_all_cores(budget: Duration) -> (f64, usize) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..cores)
            .map(|_| s.spawn(|| batch_rate(budget).0))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    (total as f64 / start.elapsed().as_secs_f64(), cores)
}

/// SHA-256 throughput on one core, MB/s.
pub fn sha256_mb_s(budget: Duration) -> f64 {
    let buf = vec![0x5au8; 1 << 20];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        let d = Sha256::digest(&buf);
        n += u64::from(d[0] != 0xff || d[1] != 0xff) * buf.len() as u64;
    }
    n as f64 / 1e6 / start.elapsed().as_secs_f64()
}

/// Fewest items worth a thread of their own in [`par_map`].
const PAR_MIN: usize = 32;

/// `items.map(f)` spread over the machine's cores, in order. Small inputs
/// run on the caller's thread. For CPU-bound work (signing, verifying).
pub fn par_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores.min(items.len() / PAR_MIN).max(1);
    if parts == 1 {
        return items.into_iter().map(f).collect();
    }
    let per = items.len().div_ceil(parts);
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(parts);
    let mut it = items.into_iter().peekable();
    while it.peek().is_some() {
        chunks.push(it.by_ref().take(per).collect());
    }
    let f = &f;
    std::thread::scope(|s| {
        let mut chunks = chunks.into_iter();
        // The caller's thread takes the first part itself.
        let first = chunks.next().unwrap_or_default();
        let handles: Vec<_> = chunks
            .map(|c| s.spawn(move || c.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = first.into_iter().map(f).collect();
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_is_measured_and_positive() {
        let d = Duration::from_millis(20);
        assert!(ed25519_single(d) > 0.0);
        assert!(ed25519_batch(d) > 0.0);
        let (rate, cores) = ed25519_batch_all_cores(d);
        assert!(rate > 0.0 && cores >= 1);
        assert!(sha256_mb_s(d) > 0.0);
    }

    #[test]
    fn par_map_keeps_order_and_every_item() {
        for n in [0usize, 1, 31, 32, 64, 65, 1000] {
            let items: Vec<usize> = (0..n).collect();
            let out = par_map(items, |x| x * 3);
            assert_eq!(out, (0..n).map(|x| x * 3).collect::<Vec<_>>(), "n = {n}");
        }
    }
}
