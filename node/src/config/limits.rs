//! `[limits]`: what one record, one message and one caller may take.

use serde::Deserialize;

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Largest record body accepted, bytes.
    pub max_body_bytes: usize,
    /// Largest gRPC message accepted, bytes.
    pub max_message_bytes: usize,
    /// How far ahead of this node's clock a record's `created_at` may be,
    /// seconds.
    pub clock_skew_secs: u64,
    /// Calls each peer may have in progress at once on the Federation
    /// listener.
    pub peer_requests: usize,
    /// Streams (Pull, Reconcile, DeconflictFilter) each peer may have open.
    pub peer_streams: usize,
    /// Agency API requests in progress at once, all local callers together.
    pub api_requests: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_body_bytes: 64 * 1024,
            max_message_bytes: 4 * 1024 * 1024,
            clock_skew_secs: (crate::record::MAX_CLOCK_SKEW_MS / 1000) as u64,
            peer_requests: 16,
            peer_streams: 4,
            api_requests: 64,
        }
    }
}

impl LimitsSection {
    /// Each setting within its bounds, or the one that is not.
    pub(super) fn check(&self) -> Result<(), String> {
        if self.max_body_bytes < 1024 || self.max_body_bytes > 16 * 1024 * 1024 {
            return Err("[limits] max_body_bytes must be between 1024 and 16777216".into());
        }
        if self.clock_skew_secs > 86_400 {
            return Err("[limits] clock_skew_secs must be at most 86400 (a day)".into());
        }
        if self.max_message_bytes < self.max_body_bytes + 1024 {
            return Err(
                "[limits] max_message_bytes must exceed max_body_bytes by at least 1024".into(),
            );
        }
        for (name, v, max) in [
            ("peer_requests", self.peer_requests, 1024),
            ("peer_streams", self.peer_streams, 64),
            ("api_requests", self.api_requests, 4096),
        ] {
            // A peer link needs a Pull and a completeness check at once.
            let min = if name == "peer_streams" { 2 } else { 1 };
            if v < min || v > max {
                return Err(format!("[limits] {name} must be between {min} and {max}"));
            }
        }
        Ok(())
    }
}

/// Each peer's allowance on the Federation listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLimits {
    /// Calls in progress at once (`[limits] peer_requests`).
    pub requests: usize,
    /// Streams open at once: Pull, Reconcile, DeconflictFilter
    /// (`[limits] peer_streams`).
    pub streams: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_allowance_is_bounded_and_named() {
        assert_eq!(LimitsSection::default().check(), Ok(()));
        type Edit = fn(&mut LimitsSection);
        let cases: [(Edit, &str); 5] = [
            (
                |l| l.peer_streams = 1,
                "peer_streams must be between 2 and 64",
            ),
            (|l| l.peer_requests = 0, "peer_requests must be between 1"),
            (
                |l| l.api_requests = 5000,
                "api_requests must be between 1 and 4096",
            ),
            (|l| l.clock_skew_secs = 90_000, "clock_skew_secs"),
            (
                |l| l.max_message_bytes = 2048,
                "max_message_bytes must exceed",
            ),
        ];
        for (edit, says) in cases {
            let mut l = LimitsSection::default();
            edit(&mut l);
            let e = l.check().expect_err(says);
            assert!(e.contains(says), "{e}");
        }
    }
}
