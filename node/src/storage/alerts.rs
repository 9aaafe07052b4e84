//! Alerts and the watchlist: node-local state, never signed or synced.
//! Alerts are numbered in the order they are raised; one record raises at
//! most one alert per value (`recordkey_alert`); the alert check follows
//! the feed from a durable mark, so a restart neither loses nor repeats
//! one.

use prost::Message;
use wildnet_proto::v1 as pb;

use super::{KvWrite, Side, Store, StoreError, keys};
use crate::record::RecordId;

impl Store {
    /// The feed position up to which records were checked for alerts;
    /// `None` on a data dir that never ran the check.
    pub fn alert_mark(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .trees()
            .meta
            .get(keys::ALERT_MARK_KEY)?
            .map(|v| keys::u64_from(&v)))
    }

    /// Whether `record` already raised an alert for `key`.
    pub fn alerted(&self, record: &RecordId, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .trees()
            .alert_keys
            .contains_key(keys::alert_key(record, key))?)
    }

    /// Stores new alerts (numbered here, in order) and moves the alert
    /// mark to `mark`, in one durable write; returns them numbered.
    pub async fn add_alerts(
        &self,
        mut alerts: Vec<pb::Alert>,
        mark: u64,
    ) -> Result<Vec<pb::Alert>, StoreError> {
        let mut writes: Vec<KvWrite> = Vec::with_capacity(alerts.len() * 2 + 1);
        for a in &mut alerts {
            a.id = self.trees().next_id()? + 1;
            let record: RecordId = a
                .record
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("alert on a bad id {}", a.record)))?;
            writes.push((
                Side::AlertKeys,
                keys::alert_key(&record, &a.selector),
                Some(a.id.to_be_bytes().to_vec()),
            ));
            writes.push((
                Side::Alerts,
                a.id.to_be_bytes().to_vec(),
                Some(a.encode_to_vec()),
            ));
        }
        writes.push((
            Side::Meta,
            keys::ALERT_MARK_KEY.as_bytes().to_vec(),
            Some(mark.to_be_bytes().to_vec()),
        ));
        self.write_kv(writes).await?;
        Ok(alerts)
    }

    /// Alerts numbered above `after`, oldest first, at most `limit`.
    pub fn alerts(
        &self,
        after: u64,
        unacked: bool,
        limit: usize,
    ) -> Result<Vec<pb::Alert>, StoreError> {
        let start = after.saturating_add(1).to_be_bytes();
        take(self.trees().alerts.range(start..), unacked, limit)
    }

    /// The newest `limit` alerts (only unacknowledged ones when
    /// `unacked`), newest first.
    pub fn alerts_newest(&self, unacked: bool, limit: usize) -> Result<Vec<pb::Alert>, StoreError> {
        take(self.trees().alerts.iter().rev(), unacked, limit)
    }

    /// How many alerts are not acknowledged (reads them all).
    pub fn unacked_alerts(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for kv in self.trees().alerts.iter() {
            let (_, v) = kv?;
            if !decode(&v)?.acked {
                n += 1;
            }
        }
        Ok(n)
    }

    /// One alert.
    pub fn alert(&self, id: u64) -> Result<Option<pb::Alert>, StoreError> {
        self.trees()
            .alerts
            .get(id.to_be_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Rewrites one alert (an acknowledgement).
    pub async fn put_alert(&self, a: &pb::Alert) -> Result<(), StoreError> {
        self.write_kv(vec![(
            Side::Alerts,
            a.id.to_be_bytes().to_vec(),
            Some(a.encode_to_vec()),
        )])
        .await
    }

    /// The watched value `key`, if it is.
    pub fn watched(&self, key: &str) -> Result<Option<pb::WatchEntry>, StoreError> {
        self.trees()
            .watch
            .get(key.as_bytes())?
            .map(|v| {
                pb::WatchEntry::decode(v.as_ref())
                    .map_err(|e| StoreError::Corrupt(format!("watch entry: {e}")))
            })
            .transpose()
    }

    /// Every watched value, by key.
    pub fn watchlist(&self) -> Result<Vec<pb::WatchEntry>, StoreError> {
        self.trees()
            .watch
            .iter()
            .values()
            .map(|v| {
                pb::WatchEntry::decode(v?.as_ref())
                    .map_err(|e| StoreError::Corrupt(format!("watch entry: {e}")))
            })
            .collect()
    }

    /// Adds (`Some`) or removes (`None`) a watched value.
    pub async fn set_watch(&self, key: &str, e: Option<&pb::WatchEntry>) -> Result<(), StoreError> {
        self.write_kv(vec![(
            Side::Watch,
            key.as_bytes().to_vec(),
            e.map(Message::encode_to_vec),
        )])
        .await
    }
}

/// Up to `limit` alerts of `rows`, in their order (only unacknowledged
/// ones when `unacked`).
fn take(
    rows: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    unacked: bool,
    limit: usize,
) -> Result<Vec<pb::Alert>, StoreError> {
    let mut out = Vec::new();
    for kv in rows {
        let (_, v) = kv?;
        let a = decode(&v)?;
        if unacked && a.acked {
            continue;
        }
        out.push(a);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

fn decode(v: &[u8]) -> Result<pb::Alert, StoreError> {
    pb::Alert::decode(v).map_err(|e| StoreError::Corrupt(format!("alert: {e}")))
}
