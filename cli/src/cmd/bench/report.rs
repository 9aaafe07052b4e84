//! The figures of a run, their ratios to the same-run limits, and how
//! they are printed.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::Plan;
use crate::{Format, output};

/// One reported figure.
#[derive(Debug, Clone)]
pub(super) struct Figure {
    area: &'static str,
    measure: String,
    value: f64,
    unit: &'static str,
    /// The same-run limit it is compared with, and the ratio.
    against: Option<(String, f64)>,
    target: &'static str,
}

#[derive(Default)]
pub(super) struct Report {
    figures: Vec<Figure>,
}

impl Report {
    pub(super) fn add(
        &mut self,
        area: &'static str,
        measure: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> &mut Self {
        self.figures.push(Figure {
            area,
            measure: measure.into(),
            value,
            unit,
            against: None,
            target: "",
        });
        self
    }

    /// Compares the last figure with a limit: ratio = value / limit.
    pub(super) fn vs(&mut self, limit: &str, limit_value: f64) -> &mut Self {
        if let Some(f) = self.figures.last_mut() {
            f.against = Some((limit.to_string(), f.value / limit_value.max(1e-12)));
        }
        self
    }

    pub(super) fn target(&mut self, t: &'static str) -> &mut Self {
        if let Some(f) = self.figures.last_mut() {
            f.target = t;
        }
        self
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(super) fn p50_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (percentile(&v, 0.5), percentile(&v, 0.99))
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        let s = format!("{:.0}", v);
        // Thousands separators for readability.
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn figure_json(f: &Figure) -> serde_json::Value {
    json!({
        "area": f.area,
        "measure": f.measure,
        "value": f.value,
        "unit": f.unit,
        "against": f.against.as_ref().map(|(w, _)| w.clone()),
        "ratio": f.against.as_ref().map(|(_, x)| *x),
        "target": (!f.target.is_empty()).then_some(f.target),
    })
}

pub(super) fn print(
    r: &Report,
    plan: &Plan,
    total: f64,
    kept: Option<&Path>,
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Json => output::json(&json!({
            "records": plan.records,
            "seconds": (total * 10.0).round() / 10.0,
            "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "kept": kept.map(|p| p.display().to_string()),
            "figures": r.figures.iter().map(figure_json).collect::<Vec<_>>(),
        }))?,
        Format::Table => {
            output::table(
                &[
                    "area",
                    "measure",
                    "value",
                    "unit",
                    "vs same-run limit",
                    "target",
                ],
                r.figures
                    .iter()
                    .map(|f| {
                        vec![
                            f.area.to_string(),
                            f.measure.clone(),
                            fmt_value(f.value),
                            f.unit.to_string(),
                            f.against
                                .as_ref()
                                .map(|(w, x)| format!("{:.2}x {w}", x))
                                .unwrap_or_default(),
                            f.target.to_string(),
                        ]
                    })
                    .collect(),
            )?;
            output::line(&format!(
                "{} records, {:.0} s in all{}",
                plan.records,
                total,
                kept.map(|p| format!("; kept in {}", p.display()))
                    .unwrap_or_default()
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_sample() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let (p50, p99) = p50_p99(v);
        assert_eq!((p50, p99), (51.0, 99.0));
        assert_eq!(p50_p99(Vec::new()), (0.0, 0.0));
    }

    #[test]
    fn values_read_well() {
        assert_eq!(fmt_value(1_234_567.4), "1,234,567");
        assert_eq!(fmt_value(123.0), "123");
        assert_eq!(fmt_value(12.34), "12.3");
        assert_eq!(fmt_value(1.234), "1.23");
    }

    #[test]
    fn a_ratio_is_value_over_limit() {
        let mut r = Report::default();
        r.add("sync", "x", 25.0, "/s");
        r.vs("limit", 100.0);
        assert_eq!(r.figures[0].against, Some(("limit".to_string(), 0.25)));
    }
}
