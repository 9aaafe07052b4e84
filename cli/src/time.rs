//! Dates on the command line: `YYYY-MM-DD` (midnight UTC), RFC 3339, or
//! unix milliseconds; shown as RFC 3339 UTC.

use anyhow::bail;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// Parses a date or time to unix milliseconds.
pub fn parse(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp_millis());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && let Ok(ms) = s.parse::<i64>()
    {
        return Ok(ms);
    }
    bail!("{s:?} is not a date: use YYYY-MM-DD or RFC 3339 (e.g. 2026-11-29T10:00:00Z)")
}

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// Short UTC form for tables: `2026-11-29 10:00`.
pub fn short(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dates, RFC 3339 times and unix ms parse; nonsense does not.
    #[test]
    fn parses() {
        assert_eq!(parse("2026-11-01").expect("date"), 1_793_491_200_000);
        assert_eq!(
            parse("2026-11-01T01:00:00+01:00").expect("rfc"),
            1_793_491_200_000
        );
        assert_eq!(parse("1793491200000").expect("ms"), 1_793_491_200_000);
        assert!(parse("yesterday").is_err());
        assert!(parse("2026-13-01").is_err());
        assert_eq!(rfc3339(1_793_491_200_000), "2026-11-01T00:00:00.000Z");
    }
}
