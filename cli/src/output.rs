//! Printing: tables for people, one JSON document for scripts.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use serde_json::Value;

/// Prints a JSON document on stdout.
pub fn json(v: &Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

/// Prints a line on stdout.
pub fn line(s: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}")?;
    Ok(())
}

/// A table with a header row.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> anyhow::Result<()> {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    line(&t.to_string())
}

/// A value of a record view as a short table cell.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| cell(Some(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Object(m)) => {
            if let Some(Value::String(s)) = m.get("scientific_name") {
                return s.clone();
            }
            if let (Some(a), Some(c)) = (m.get("amount_minor"), m.get("currency")) {
                return format!("{} {}", cell(Some(a)), cell(Some(c)));
            }
            if let (Some(k), Some(v)) = (m.get("kind"), m.get("value")) {
                return format!("{}:{}", cell(Some(k)).to_lowercase(), cell(Some(v)));
            }
            Value::Object(m.clone()).to_string()
        }
        Some(v) => v.to_string(),
    }
}

/// `TLP:AMBER local H0` — the handling in one cell.
pub fn handling(v: Option<&Value>) -> String {
    let Some(Value::Object(h)) = v else {
        return String::new();
    };
    let mut s = format!("TLP:{}", cell(h.get("tlp")).replace("_STRICT", "+STRICT"));
    let scope = cell(h.get("scope")).to_lowercase();
    match scope.as_str() {
        "agencies" => s.push_str(&format!(
            " agency:{}",
            cell(h.get("agencies")).replace(", ", ",")
        )),
        "groups" => s.push_str(&format!(
            " group:{}",
            cell(h.get("groups")).replace(", ", ",")
        )),
        other => s.push_str(&format!(" {other}")),
    }
    s.push_str(&format!(" {}", cell(h.get("code"))));
    let (src, info) = (cell(h.get("source")), cell(h.get("information")));
    if !src.is_empty() || !info.is_empty() {
        let info = info.trim_start_matches("INFORMATION_EVALUATION_");
        s.push_str(&format!(
            " {}{}",
            src.trim_start_matches("SOURCE_EVALUATION_"),
            info
        ));
    }
    if let Some(Value::String(r)) = h.get("restrictions") {
        s.push_str(&format!(" ({r})"));
    }
    s
}

/// The summary column of a record: what it is about.
pub fn summary(v: &Value) -> String {
    let get = |k: &str| cell(v.get(k));
    match v.get("kind").and_then(Value::as_str).unwrap_or("") {
        "listing" => format!("{} — {}", get("title"), get("seller_handle")),
        "entity" => get("names"),
        "seizure" => format!("{} {}", get("place"), get("description")),
        "note" => {
            let t = get("title");
            if t.is_empty() { get("text") } else { t }
        }
        "retraction" => format!(
            "retracts {} ({})",
            get("target").get(..12).unwrap_or(""),
            get("reason")
        ),
        _ => get("code_name"),
    }
    .chars()
    .take(60)
    .collect()
}
