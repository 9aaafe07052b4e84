//! Correlation: the records that share a selector with a record, or hold
//! one value, read from the inverted index (correlation key → records) at
//! query time. Pairs are never stored: MISP's pairwise table has been
//! reported at 2.4 billion rows. A value held by more records than the
//! limit is over-correlating, and a value on a warninglist links nothing:
//! both stay queryable but are left out unless asked for.

use super::{Node, NodeError};
use crate::config::CorrelationSettings;
use crate::record::RecordId;
use crate::record::selector;
use crate::record::terms::{self, Field};
use crate::storage::Stored;
use crate::warninglist::Warninglists;

/// Most records listed for one value when suppressed values are asked for.
const SHOW_ALL: usize = 200;

/// The node's correlation settings in force.
#[derive(Debug, Clone)]
pub struct Correlation {
    /// Records per value above which it is over-correlating.
    pub limit: usize,
    /// The warninglists in force.
    pub lists: Warninglists,
}

impl Correlation {
    /// The settings with their warninglists read: the shipped ones unless
    /// switched off, then the operator's files.
    pub fn load(s: &CorrelationSettings) -> Result<Correlation, String> {
        let mut lists = if s.shipped_warninglists {
            Warninglists::shipped()
        } else {
            Warninglists::default()
        };
        for path in &s.warninglists {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "[correlation] warninglists: cannot read {}: {e}",
                    path.display()
                )
            })?;
            lists
                .add_json(&text)
                .map_err(|e| format!("[correlation] warninglists: {}: {e}", path.display()))?;
        }
        Ok(Correlation {
            limit: s.limit,
            lists,
        })
    }
}

/// Why a value is left out of correlation results and alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suppressed {
    /// Held by more records than the limit.
    OverCorrelating,
    /// On a warninglist (its name and version).
    Warninglisted(String),
}

impl std::fmt::Display for Suppressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Suppressed::OverCorrelating => write!(f, "over-correlating"),
            Suppressed::Warninglisted(l) => write!(f, "warninglist: {l}"),
        }
    }
}

/// One correlation key and the records that hold it.
#[derive(Debug, Clone)]
pub struct Links {
    /// The correlation key, `kind:value`.
    pub key: String,
    /// Records holding it (current versions), the asked one included.
    pub holders: usize,
    /// True when more hold it than were counted.
    pub more: bool,
    /// Why it is left out, if it is.
    pub suppressed: Option<Suppressed>,
    /// The other records holding it, newest first (none when suppressed,
    /// unless asked for).
    pub records: Vec<Stored>,
}

/// A value with how many index entries it has.
#[derive(Debug, Clone)]
pub struct TopValue {
    /// The correlation key.
    pub key: String,
    /// Records holding it (older versions included).
    pub entries: u64,
    /// Why it is left out of correlation, if it is.
    pub suppressed: Option<Suppressed>,
}

/// The correlation keys of a record.
pub(crate) fn keys_of(s: &Stored) -> Vec<String> {
    terms::of(&s.record)
        .into_iter()
        .filter(|(f, _)| *f == Field::Selector)
        .map(|(_, k)| k)
        .collect()
}

impl Node {
    /// The correlation settings in force.
    pub fn correlation(&self) -> &Correlation {
        &self.correlation
    }

    /// Every selector of a record with the other records holding it.
    pub fn correlate_record(
        &self,
        id_text: &str,
        all: bool,
    ) -> Result<(Stored, Vec<Links>), NodeError> {
        let (s, _) = self.get(id_text)?;
        let id = s.record.id();
        let links = keys_of(&s)
            .into_iter()
            .map(|k| self.links(&k, Some(&id), all))
            .collect::<Result<_, _>>()?;
        Ok((s, links))
    }

    /// The correlation key of a selector an analyst typed (`kind:value`;
    /// a national phone format read in this node's country).
    pub fn key_of(&self, text: &str) -> Result<String, NodeError> {
        let sel = selector::parse(text, Some(self.agency.country())).map_err(NodeError::Invalid)?;
        Ok(selector::text(&sel))
    }

    /// The records holding one selector (`kind:value`, normalised as a
    /// query is).
    pub fn correlate_value(&self, text: &str, all: bool) -> Result<Links, NodeError> {
        self.links(&self.key_of(text)?, None, all)
    }

    /// How many other records share a selector with `s` that is not
    /// suppressed (what `get` shows).
    pub fn correlation_count(&self, s: &Stored) -> Result<usize, NodeError> {
        let id = s.record.id();
        let mut others: Vec<RecordId> = Vec::new();
        for k in keys_of(s) {
            let l = self.links(&k, Some(&id), false)?;
            others.extend(l.records.iter().map(|r| r.record.id()));
        }
        others.sort_unstable();
        others.dedup();
        Ok(others.len())
    }

    /// The `n` values held by the most records.
    pub fn top_values(&self, n: usize) -> Result<Vec<TopValue>, NodeError> {
        let mut all = self.store.selector_counts()?;
        all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(n);
        Ok(all
            .into_iter()
            .map(|(key, entries)| {
                let suppressed = self.suppression(&key, entries as usize, false);
                TopValue {
                    key,
                    entries,
                    suppressed,
                }
            })
            .collect())
    }

    /// Why a value with `holders` records (and `more` beyond them) is left
    /// out, if it is.
    pub fn suppression(&self, key: &str, holders: usize, more: bool) -> Option<Suppressed> {
        if let Some(l) = self.correlation.lists.find(key) {
            Some(Suppressed::Warninglisted(l.to_string()))
        } else if more || holders > self.correlation.limit {
            Some(Suppressed::OverCorrelating)
        } else {
            None
        }
    }

    /// One key's holders, without `own`.
    pub(crate) fn links(
        &self,
        key: &str,
        own: Option<&RecordId>,
        all: bool,
    ) -> Result<Links, NodeError> {
        let limit = self.correlation.limit;
        let cap = if all {
            SHOW_ALL.max(limit + 1)
        } else {
            limit + 1
        };
        let (mut records, more) = self.store.holding(key, cap)?;
        let holders = records.len();
        let suppressed = self.suppression(key, holders, more);
        records.retain(|s| Some(&s.record.id()) != own);
        if suppressed.is_some() && !all {
            records.clear();
        }
        Ok(Links {
            key: key.to_string(),
            holders,
            more,
            suppressed,
            records,
        })
    }
}
