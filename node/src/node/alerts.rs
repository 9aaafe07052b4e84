//! Alerts: node-local, unsigned, never synced. The check follows the feed
//! from a durable mark (so it covers records published here and records
//! pulled from peers alike, and a restart neither loses nor repeats one):
//! a stored record raises an alert for a value when
//! - records stored **before** it that share the value include another
//!   agency's record, and one of the two is this agency's (the later of
//!   two linked records raises the alert, so a link alerts once), unless
//!   the value is over-correlating or warninglisted; or
//! - the value is on the local watchlist (an analyst asked for it).
//!
//! One record raises at most one alert per value.

use wildnet_proto::v1 as pb;

use super::correlate::keys_of;
use super::{Node, NodeError};
use crate::record;
use crate::storage::Stored;

/// Records checked per durable step.
const CHUNK: usize = 512;

impl Node {
    /// New alerts as they are raised (for `SubscribeAlerts`).
    pub fn alert_events(&self) -> tokio::sync::broadcast::Receiver<pb::Alert> {
        self.alerts.subscribe()
    }

    /// Checks every record stored since the last check; returns how many
    /// alerts it raised. A data dir that never ran the check starts at the
    /// feed head (history raises nothing).
    pub async fn check_alerts(&self) -> Result<usize, NodeError> {
        let head = self.store.feed_head()?;
        let mut mark = match self.store.alert_mark()? {
            Some(m) => m,
            None => {
                self.store.add_alerts(Vec::new(), head).await?;
                tracing::info!(
                    from = head,
                    "alerts are raised for records stored from here on"
                );
                return Ok(0);
            }
        };
        let mut raised = 0;
        while mark < head {
            let chunk = self.store.feed_after(mark, head, CHUNK)?;
            let last = chunk.last().map_or(head, |s| s.seq);
            let mut alerts = Vec::new();
            for s in &chunk {
                alerts.extend(self.alerts_for(s)?);
            }
            // Past the chunk's last record, or to the head when the rest
            // are holes (deleted records).
            let next = if chunk.len() < CHUNK { head } else { last };
            let numbered = self.store.add_alerts(alerts, next).await?;
            raised += numbered.len();
            self.store.telemetry().alerts.inc_by(numbered.len() as u64);
            for a in numbered {
                tracing::info!(alert = a.id, record = %a.record, selector = %a.selector, reason = %a.reason, "alert");
                // No subscriber is fine.
                let _ = self.alerts.send(a);
            }
            mark = next;
        }
        Ok(raised)
    }

    /// The alerts one stored record raises.
    fn alerts_for(&self, s: &Stored) -> Result<Vec<pb::Alert>, NodeError> {
        let id = s.record.id();
        let mut out = Vec::new();
        for key in keys_of(s) {
            if self.store.alerted(&id, &key)? {
                continue;
            }
            let watch = self.store.watched(&key)?;
            let matches = self.earlier_links(s, &key)?;
            if matches.is_empty() && watch.is_none() {
                continue;
            }
            let body = s.record.body();
            out.push(pb::Alert {
                raised_at: crate::now_ms(),
                record: id.to_hex(),
                author: body.author.clone(),
                kind: record::kind_of(body).to_string(),
                selector: key,
                reason: if matches.is_empty() {
                    "watchlist"
                } else {
                    "shared"
                }
                .into(),
                matches,
                watch_note: watch.map(|w| w.note).unwrap_or_default(),
                received_from: s.received_from.clone(),
                ..Default::default()
            });
        }
        Ok(out)
    }

    /// The records stored before `s` that share `key` and make a link
    /// worth an alert: another agency's, where one of the two is ours;
    /// none when the value is over-correlating or warninglisted.
    fn earlier_links(&self, s: &Stored, key: &str) -> Result<Vec<pb::AlertMatch>, NodeError> {
        let limit = self.correlation.limit;
        let (seqs, more) = self.store.postings(key, limit + 1)?;
        if seqs.len() < 2 || self.suppression(key, seqs.len(), more).is_some() {
            return Ok(Vec::new());
        }
        let author = &s.record.body().author;
        let ours = self.agency.as_str();
        let mut out = Vec::new();
        for seq in seqs.into_iter().filter(|q| *q < s.seq) {
            let Some(m) = self.store.get_seq(seq)? else {
                continue;
            };
            let b = m.record.body();
            if m.superseded_by.is_some() || &b.author == author {
                continue;
            }
            if b.author == ours || author == ours {
                out.push(pb::AlertMatch {
                    id: m.record.id().to_hex(),
                    author: b.author.clone(),
                    kind: record::kind_of(b).to_string(),
                    created_at: b.created_at,
                });
            }
        }
        Ok(out)
    }

    /// Lists alerts, oldest first.
    pub fn list_alerts(
        &self,
        after: u64,
        unacked: bool,
        limit: usize,
    ) -> Result<Vec<pb::Alert>, NodeError> {
        Ok(self.store.alerts(after, unacked, limit.clamp(1, 10_000))?)
    }

    /// Acknowledges an alert (again: the note and time are replaced).
    pub async fn ack_alert(&self, id: u64, by: &str, note: &str) -> Result<pb::Alert, NodeError> {
        let mut a = self
            .store
            .alert(id)?
            .ok_or_else(|| NodeError::Unknown(format!("no alert {id}: see `wildnet alerts`")))?;
        a.acked = true;
        a.acked_at = crate::now_ms();
        a.acked_by = by.to_string();
        a.ack_note = note.trim().to_string();
        self.store.put_alert(&a).await?;
        self.audit_nowait(by, "alert-ack", format!("alert {id} {}", a.ack_note));
        Ok(a)
    }

    /// Watches a value; returns its entry and how many records hold it
    /// already.
    pub async fn watch_add(
        &self,
        text: &str,
        note: &str,
        by: &str,
    ) -> Result<(pb::WatchEntry, usize), NodeError> {
        let key = self.key_of(text)?;
        let e = pb::WatchEntry {
            selector: key.clone(),
            note: note.trim().to_string(),
            added_at: crate::now_ms(),
            added_by: by.to_string(),
        };
        self.store.set_watch(&key, Some(&e)).await?;
        self.audit_nowait(by, "watch-add", key.clone());
        let (held, _) = self.store.postings(&key, 10_000)?;
        Ok((e, held.len()))
    }

    /// Stops watching a value.
    pub async fn watch_remove(&self, text: &str, by: &str) -> Result<pb::WatchEntry, NodeError> {
        let key = self.key_of(text)?;
        let e = self.store.watched(&key)?.ok_or_else(|| {
            NodeError::Unknown(format!("{key} is not watched: see `wildnet watch list`"))
        })?;
        self.store.set_watch(&key, None).await?;
        self.audit_nowait(by, "watch-remove", key);
        Ok(e)
    }

    /// Every watched value.
    pub fn watch_list(&self) -> Result<Vec<pb::WatchEntry>, NodeError> {
        Ok(self.store.watchlist()?)
    }
}
