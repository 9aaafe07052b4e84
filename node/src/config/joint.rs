//! The settings of joint work between agencies: `[correlation]`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A value shared by more records than this is over-correlating, by
/// default (MISP's default too).
pub const DEFAULT_CORRELATION_LIMIT: u32 = 20;

/// `[correlation]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelationSection {
    /// A selector held by more records than this is over-correlating: it
    /// stays queryable, but is left out of correlation results and alerts.
    pub limit: u32,
    /// Use the warninglists wildnet ships (marketplace no-reply addresses,
    /// placeholder numbers, reserved domains).
    pub shipped_warninglists: bool,
    /// The operator's own warninglists (MISP's JSON shape).
    pub warninglists: Vec<PathBuf>,
}

impl Default for CorrelationSection {
    fn default() -> Self {
        CorrelationSection {
            limit: DEFAULT_CORRELATION_LIMIT,
            shipped_warninglists: true,
            warninglists: Vec::new(),
        }
    }
}

/// `[correlation]`, validated, paths resolved.
#[derive(Debug, Clone)]
pub struct CorrelationSettings {
    /// Over-correlation limit (records per value).
    pub limit: usize,
    /// Whether the shipped warninglists are in force.
    pub shipped_warninglists: bool,
    /// The operator's warninglist files.
    pub warninglists: Vec<PathBuf>,
}

impl Default for CorrelationSettings {
    fn default() -> Self {
        CorrelationSection::default()
            .settings(&|p: &Path| p.to_path_buf())
            .unwrap_or(CorrelationSettings {
                limit: DEFAULT_CORRELATION_LIMIT as usize,
                shipped_warninglists: true,
                warninglists: Vec::new(),
            })
    }
}

impl CorrelationSection {
    /// Validated, with paths resolved by `resolve`.
    pub fn settings(
        &self,
        resolve: &dyn Fn(&Path) -> PathBuf,
    ) -> Result<CorrelationSettings, String> {
        if !(2..=100_000).contains(&self.limit) {
            return Err(format!(
                "[correlation] limit = {} must be between 2 and 100000 (records per value)",
                self.limit
            ));
        }
        Ok(CorrelationSettings {
            limit: self.limit as usize,
            shipped_warninglists: self.shipped_warninglists,
            warninglists: self.warninglists.iter().map(|p| resolve(p)).collect(),
        })
    }
}

/// `[deconfliction]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeconflictionSection {
    /// The OPRF key that answers deconfliction questions (made at the
    /// first start).
    pub oprf_key: PathBuf,
    /// Answer for LOCAL records too (they never leave the node; a hit only
    /// tells the asker whom to call).
    pub answer_local: bool,
    /// Selectors one peer may have evaluated at once (token bucket size).
    pub peer_burst: u32,
    /// Selectors per peer and day the bucket refills with.
    pub peer_per_day: u32,
    /// How long `wildnet deconflict` waits for each peer, seconds.
    pub deadline_secs: u64,
}

impl Default for DeconflictionSection {
    fn default() -> Self {
        DeconflictionSection {
            oprf_key: crate::layout::OPRF_KEY_FILE.into(),
            answer_local: true,
            peer_burst: 500,
            peer_per_day: 500,
            deadline_secs: 5,
        }
    }
}

/// `[deconfliction]`, validated, the key path resolved.
#[derive(Debug, Clone)]
pub struct DeconflictionSettings {
    /// The OPRF key file.
    pub oprf_key: PathBuf,
    /// Whether LOCAL records are answered for.
    pub answer_local: bool,
    /// Token bucket size per peer (selectors).
    pub peer_burst: u32,
    /// Refill per day (selectors).
    pub peer_per_day: u32,
    /// Per-peer deadline of a fan-out.
    pub deadline: std::time::Duration,
}

impl DeconflictionSection {
    /// Validated, with the key path resolved by `resolve`.
    pub fn settings(
        &self,
        resolve: &dyn Fn(&Path) -> PathBuf,
    ) -> Result<DeconflictionSettings, String> {
        if self.peer_burst == 0 {
            return Err("[deconfliction] peer_burst must be at least 1".into());
        }
        if !(1..=600).contains(&self.deadline_secs) {
            return Err("[deconfliction] deadline_secs must be 1-600".into());
        }
        Ok(DeconflictionSettings {
            oprf_key: resolve(&self.oprf_key),
            answer_local: self.answer_local,
            peer_burst: self.peer_burst,
            peer_per_day: self.peer_per_day,
            deadline: std::time::Duration::from_secs(self.deadline_secs),
        })
    }
}
