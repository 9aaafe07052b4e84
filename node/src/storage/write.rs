//! Writes: every one goes to the single writer thread ([`super::writer`])
//! and is answered once its group commit is flushed.

use std::sync::atomic::Ordering;

use tokio::sync::oneshot;

use super::{AfterInsert, AuditDraft, InsertItem, Inserted, Store, StoreError, writer};

impl Store {
    pub(super) fn send(&self, op: writer::Op) -> Result<(), StoreError> {
        let guard = self.tx.lock().map_err(|_| StoreError::Closed)?;
        guard
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(op)
            .map_err(|_| StoreError::Closed)
    }

    /// Stores records durably; one result per item, in order. Returns once
    /// they are flushed to disk (shared with concurrent writers).
    pub async fn insert(
        &self,
        items: Vec<InsertItem>,
        audit: Vec<AuditDraft>,
    ) -> Result<Vec<Result<Inserted, StoreError>>, StoreError> {
        self.insert_then(items, audit, None).await
    }

    /// [`Store::insert`], then `then`'s side writes in the same flush,
    /// after the records.
    pub async fn insert_then(
        &self,
        items: Vec<InsertItem>,
        audit: Vec<AuditDraft>,
        then: Option<AfterInsert>,
    ) -> Result<Vec<Result<Inserted, StoreError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(writer::Op::Insert {
            items,
            checked: true,
            audit,
            then,
            reply,
        })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Puts and removals in the side trees, in order, answered once flushed.
    pub(super) async fn write_kv(&self, writes: Vec<super::KvWrite>) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(writer::Op::Kv { writes, reply })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues an audit entry for the next group flush, without waiting.
    pub fn audit_queue(&self, entry: AuditDraft) -> Result<(), StoreError> {
        self.send(writer::Op::Audit { entry, reply: None })
    }

    /// Appends an audit entry; `durable` waits for the flush.
    pub async fn audit(&self, entry: AuditDraft, durable: bool) -> Result<(), StoreError> {
        if !durable {
            return self.audit_queue(entry);
        }
        let (reply, rx) = oneshot::channel();
        self.send(writer::Op::Audit {
            entry,
            reply: Some(reply),
        })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Deletes records whose `expires_at` is at or before `now`; returns how many.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(writer::Op::Purge { now, reply })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `job` on the writer thread between two group commits: every
    /// acknowledged write is in the trees, and no write happens while it
    /// runs (writers wait).
    pub(super) async fn exclusive<T: Send + 'static>(
        &self,
        job: impl FnOnce(&super::Trees) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(writer::Op::Exclusive(Box::new(move |t| {
            let _ = reply.send(job(t));
        })))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// True once [`Store::close`] was called: writes are refused.
    pub fn is_closed(&self) -> bool {
        self.tx.lock().map(|tx| tx.is_none()).unwrap_or(true)
    }

    /// Stops the writer (after what is queued) and waits for it.
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut h) = self.thread.lock()
            && let Some(h) = h.take()
        {
            let _ = h.join();
        }
    }

    /// How many group flushes the writer has done (for tests and stats).
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}
