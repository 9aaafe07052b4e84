//! The group-commit loop of the writer thread: one operation and whatever
//! else is queued, applied, flushed and synced once, then every caller
//! answered; exclusive jobs between two groups; re-index steps when idle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use super::{BATCH_BUDGET, Done, Exclusive, Op, REINDEX_EVERY, Writer};
use crate::storage::audit::AuditChain;
use crate::storage::{StoreError, keys};

impl Writer {
    /// The writer thread: one group commit per round until every sender is
    /// gone, then the clean-stop mark.
    pub(super) fn run(
        mut self,
        rx: &mpsc::Receiver<Op>,
        flushes: &AtomicU64,
        head: &tokio::sync::watch::Sender<u64>,
    ) {
        // Cleared by a failed group commit: the counters may then be off
        // and are recounted at the next start.
        let mut healthy = true;
        let mut groups = 0u32;
        loop {
            // A re-index runs when the queue is empty, and at least every
            // [`REINDEX_EVERY`] group commits under a steady load.
            let first = if self.reindex.is_some() {
                groups += 1;
                match rx.try_recv() {
                    Ok(op) if !groups.is_multiple_of(REINDEX_EVERY) => op,
                    Ok(op) => {
                        self.reindex_or_log();
                        op
                    }
                    Err(mpsc::TryRecvError::Empty) => {
                        self.reindex_or_log();
                        continue;
                    }
                    Err(mpsc::TryRecvError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(op) => op,
                    Err(_) => break,
                }
            };
            let first = match first {
                Op::Exclusive(job) => {
                    job(&self.t);
                    continue;
                }
                op => op,
            };
            let mut later = None;
            healthy &= self.group(first, rx, flushes, head, &mut later);
            if let Some(job) = later {
                job(&self.t);
            }
        }
        if healthy && let Err(e) = self.t.meta.insert(keys::CLEAN_KEY, &[1]) {
            tracing::error!(cause = %e, "cannot mark the clean stop");
        }
        if let Err(e) = self.flush() {
            tracing::error!(cause = %e, "final flush failed");
        }
    }

    /// sled's flush, then the sync that makes it survive a power cut
    /// (see `durable`).
    pub(super) fn flush(&mut self) -> Result<(), StoreError> {
        crate::storage::durable::flush(&self.t.db, self.sync.as_ref())
    }

    /// One re-index step; a failure is logged and the re-index stops
    /// until the next start (queries then miss keys of older rows).
    fn reindex_or_log(&mut self) {
        if let Err(e) = self.reindex_step() {
            tracing::error!(cause = %e, "selector re-index failed; it resumes at the next start");
            self.reindex = None;
        }
    }

    /// One group commit: `first` and whatever else is queued (up to the
    /// budget, or up to an exclusive job, left in `later`), one flush, then
    /// every caller answered. False when it failed.
    fn group(
        &mut self,
        first: Op,
        rx: &mpsc::Receiver<Op>,
        flushes: &AtomicU64,
        head: &tokio::sync::watch::Sender<u64>,
        later: &mut Option<Exclusive>,
    ) -> bool {
        let started = std::time::Instant::now();
        let mut done = Vec::new();
        let mut result = self.apply(first, &mut done);
        let mut n = 1;
        while result.is_ok() && n < BATCH_BUDGET {
            match rx.try_recv() {
                Ok(Op::Exclusive(job)) => {
                    // After this group's flush, before anything later.
                    *later = Some(job);
                    break;
                }
                Ok(op) => {
                    result = self.apply(op, &mut done);
                    n += 1;
                }
                Err(_) => break,
            }
        }
        let flushed = result
            .and_then(|()| self.write_batch())
            .and_then(|()| self.flush());
        flushes.fetch_add(1, Ordering::Relaxed);
        self.telemetry
            .flush_seconds
            .observe(started.elapsed().as_secs_f64());
        self.telemetry.batch_ops.observe(n as f64);
        let ok = flushed.is_ok();
        if ok {
            // Before the replies, so a caller sees its own writes in the
            // head. Readers of the feed (Pull streams) wake on a new head.
            let new = self.next_seq - 1;
            head.send_if_modified(|h| {
                let changed = *h != new;
                *h = new;
                changed
            });
        }
        self.finish(done, flushed);
        ok
    }

    fn finish(&mut self, done: Vec<Done>, flushed: Result<(), StoreError>) {
        let fail = crate::storage::durable::not_durable;
        for d in done {
            match (d, &flushed) {
                (Done::Insert(r, v), Ok(())) => drop(r.send(Ok(v))),
                (Done::Insert(r, _), Err(e)) => drop(r.send(Err(fail(e)))),
                (Done::Audit(Some(r)), Ok(())) => drop(r.send(Ok(()))),
                (Done::Audit(Some(r)), Err(e)) => drop(r.send(Err(fail(e)))),
                (Done::Audit(None), _) => {}
                (Done::Purge(r, n), Ok(())) => drop(r.send(Ok(n))),
                (Done::Purge(r, _), Err(e)) => drop(r.send(Err(fail(e)))),
                (Done::Meta(r), Ok(())) => drop(r.send(Ok(()))),
                (Done::Meta(r), Err(e)) => drop(r.send(Err(fail(e)))),
            }
        }
        if let Err(e) = flushed {
            tracing::error!(cause = %e, "group commit failed");
            self.counts.clear();
            self.new_index.clear();
            self.batch = None;
            self.pending.clear();
            self.pending_kv.clear();
            self.pending_drafts.clear();
            self.mark = 0;
            self.suspect_ids = true;
            // Sequence numbers handed out in the failed batch are not
            // reused: some of their index entries may be on disk.
            // The in-memory audit head may be ahead of disk: reload it.
            if let Ok(c) = AuditChain::load(&self.t.audit) {
                self.chain = c;
            }
        }
    }
}
