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
