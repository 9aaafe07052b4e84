//! What correlation found in the generated haystack: the sellers active in
//! several countries linked across agencies, and the courier "hotline"
//! pasted everywhere, which the over-correlation limit leaves out.

use std::collections::BTreeSet;

use wildnet_proto::v1 as pb;

use super::{Client, PHONE};
use crate::cmd::generate::DECOY_COURIER;
use crate::output;

/// Prints the background's cross-border links at KE-KWS and the decoy's fate.
pub(super) async fn haystack(ke: &mut Client) -> anyhow::Result<()> {
    let alerts = ke
        .list_alerts(pb::ListAlertsRequest::default())
        .await
        .map_err(crate::explain)?
        .into_inner()
        .alerts;
    let linked: BTreeSet<&str> = alerts
        .iter()
        .filter(|a| a.reason == "shared" && a.selector != PHONE)
        .map(|a| a.selector.as_str())
        .collect();
    if let Some(first) = linked.iter().next() {
        output::line(&format!(
            "   in the generated listings: {} more values link KE-KWS to other agencies' records \
             (sellers active in several markets), e.g. {first}",
            linked.len()
        ))?;
    }
    let c = ke
        .correlate(pb::CorrelateRequest {
            selector: format!("handle:{DECOY_COURIER}"),
            ..Default::default()
        })
        .await
        .map_err(crate::explain)?
        .into_inner();
    if let Some(s) = c.selectors.first().filter(|s| !s.suppressed.is_empty()) {
        output::line(&format!(
            "   and {} on {}{} records links nothing: {} (over [correlation] limit = {})",
            s.selector,
            s.holders,
            if s.more { "+" } else { "" },
            s.suppressed,
            c.correlation_limit
        ))?;
    }
    Ok(())
}
