//! Plots drawn on the server as inline SVG (no scripts): horizontal bars,
//! stacked columns per day, and lines over time. Text is escaped by maud.

use maud::{Markup, html};

/// Colours of series, in order (colour-blind-safe, Okabe–Ito).
const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
];

/// The colour of series `i`.
pub(super) fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Horizontal bars, one per `(label, value)`, largest first as given.
pub(super) fn bars(title: &str, rows: &[(String, u64)]) -> Markup {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let (w, row_h, label_w) = (460.0, 22.0, 170.0);
    let h = 30.0 + row_h * rows.len().max(1) as f64;
    html! {
        figure {
            figcaption { (title) }
            @if rows.is_empty() {
                p.empty { "Nothing yet." }
            } @else {
                svg xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(title) {
                    @for (i, (label, v)) in rows.iter().enumerate() {
                        @let y = 10.0 + row_h * i as f64;
                        @let bw = (w - label_w - 60.0) * (*v as f64) / max;
                        text x=(label_w - 6.0) y=(y + 14.0) text-anchor="end" font-size="12" { (label) }
                        rect x=(label_w) y=(y + 2.0) width=(format!("{bw:.1}")) height=(row_h - 6.0) fill=(colour(0)) {}
                        text x=(label_w + bw + 4.0) y=(y + 14.0) font-size="12" { (v) }
                    }
                }
            }
        }
    }
}

/// Stacked columns: per day (`days` labels), one segment per series.
pub(super) fn stacked_days(title: &str, days: &[String], series: &[(String, Vec<u64>)]) -> Markup {
    let totals: Vec<u64> = (0..days.len())
        .map(|d| {
            series
                .iter()
                .map(|s| s.1.get(d).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let (w, h, left, bottom) = (620.0, 220.0, 40.0, 30.0);
    let col = (w - left - 10.0) / days.len().max(1) as f64;
    let plot_h = h - bottom - 10.0;
    // (x, y, height, series, tooltip) of each segment, stacked upwards.
    let mut rects = Vec::new();
    for (d, day) in days.iter().enumerate() {
        let x = left + col * d as f64 + 1.0;
        let mut base = h - bottom;
        for (i, (name, values)) in series.iter().enumerate() {
            let v = values.get(d).copied().unwrap_or(0);
            if v > 0 {
                let seg = plot_h * v as f64 / max;
                base -= seg;
                rects.push((x, base, seg, i, format!("{day} {name}: {v}")));
            }
        }
    }
    html! {
        figure {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(title) {
                line x1=(left) y1=(10) x2=(left) y2=(h - bottom) stroke="#888" {}
                line x1=(left) y1=(h - bottom) x2=(w - 10.0) y2=(h - bottom) stroke="#888" {}
                text x=(left - 4.0) y=(16) text-anchor="end" font-size="11" { (max as u64) }
                text x=(left - 4.0) y=(h - bottom) text-anchor="end" font-size="11" { "0" }
                @for (x, y, seg, i, tip) in &rects {
                    rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{:.1}", (col - 2.0).max(1.0))) height=(format!("{seg:.1}")) fill=(colour(*i)) {
                        title { (tip) }
                    }
                }
                @for (d, day) in days.iter().enumerate() {
                    // Every seventh day, counted back from the last.
                    @if (days.len() - 1 - d).is_multiple_of(7) {
                        text x=(format!("{:.1}", left + col * d as f64 + 1.0)) y=(h - bottom + 14.0) font-size="10" { (day) }
                    }
                }
            }
            (legend(series.iter().map(|s| s.0.as_str())))
        }
    }
}

/// Lines over time: per series `(unix ms, value)` points, within
/// `[start, end]` ms.
pub(super) fn lines(
    title: &str,
    start: i64,
    end: i64,
    series: &[(String, Vec<(i64, u64)>)],
) -> Markup {
    let max = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (w, h, left, bottom) = (620.0, 200.0, 50.0, 24.0);
    let span = (end - start).max(1) as f64;
    let x = |t: i64| left + (w - left - 10.0) * (t - start) as f64 / span;
    let y = |v: u64| (h - bottom) - (h - bottom - 10.0) * v as f64 / max;
    html! {
        figure {
            figcaption { (title) }
            @if series.iter().all(|s| s.1.is_empty()) {
                p.empty { "No samples yet (taken every 10 s while the listener runs)." }
            } @else {
                svg xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(title) {
                    line x1=(left) y1=(10) x2=(left) y2=(h - bottom) stroke="#888" {}
                    line x1=(left) y1=(h - bottom) x2=(w - 10.0) y2=(h - bottom) stroke="#888" {}
                    text x=(left - 4.0) y=(16) text-anchor="end" font-size="11" { (max as u64) }
                    text x=(left - 4.0) y=(h - bottom) text-anchor="end" font-size="11" { "0" }
                    text x=(left) y=(h - 6.0) font-size="10" { "−60 min" }
                    text x=(w - 10.0) y=(h - 6.0) text-anchor="end" font-size="10" { "now" }
                    @for (i, (_, points)) in series.iter().enumerate() {
                        @let path = points.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect::<Vec<_>>().join(" ");
                        polyline points=(path) fill="none" stroke=(colour(i)) stroke-width="2" {}
                        @if let Some((t, v)) = points.last() {
                            circle cx=(format!("{:.1}", x(*t))) cy=(format!("{:.1}", y(*v))) r="3" fill=(colour(i)) {}
                        }
                    }
                }
            }
            (legend(series.iter().map(|s| s.0.as_str())))
        }
    }
}

fn legend<'a>(names: impl Iterator<Item = &'a str>) -> Markup {
    html! {
        p.legend {
            @for (i, n) in names.enumerate() {
                span.key style=(format!("background:{}", colour(i))) {}
                " " (n) " "
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_svg_with_escaped_labels_and_scaled_values() {
        let b = bars(
            "By species",
            &[("Pangolin <x>".into(), 10), ("Ivory".into(), 5)],
        )
        .into_string();
        assert!(
            b.contains("<svg") && b.contains("Pangolin &lt;x&gt;"),
            "{b}"
        );
        // The largest bar takes the width; half the value, half the width.
        assert!(
            b.contains("width=\"230.0\"") && b.contains("width=\"115.0\""),
            "{b}"
        );
        let s = stacked_days(
            "Per day",
            &["11-01".into(), "11-02".into()],
            &[
                ("listing".into(), vec![2, 0]),
                ("seizure".into(), vec![2, 1]),
            ],
        )
        .into_string();
        assert_eq!(s.matches("<rect").count(), 3, "{s}");
        assert!(s.contains("11-02 seizure: 1"), "{s}");
        let l = lines("Lag", 0, 100, &[("KE-KWS".into(), vec![(0, 4), (100, 0)])]).into_string();
        assert!(
            l.contains("polyline points=\"50.0,10.0 610.0,176.0\""),
            "{l}"
        );
        let empty = lines("Lag", 0, 1, &[]).into_string();
        assert!(empty.contains("No samples yet") && !empty.contains("<svg"));
    }
}
