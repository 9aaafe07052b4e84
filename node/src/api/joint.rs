//! The Agency service's joint-work calls (correlation): conversions
//! between the requests and the node's domain operations, for
//! [`super::agency`].

use wildnet_proto::v1 as pb;

use super::agency::stored_pbs;
use crate::node::{Links, Node, NodeError};

fn links_pb(l: &Links) -> pb::SelectorLinks {
    pb::SelectorLinks {
        selector: l.key.clone(),
        holders: u32::try_from(l.holders).unwrap_or(u32::MAX),
        more: l.more,
        suppressed: l
            .suppressed
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        records: stored_pbs(&l.records),
    }
}

/// `Correlate`: one record's selectors, one value, or the top values.
pub(super) fn correlate(
    node: &Node,
    req: &pb::CorrelateRequest,
) -> Result<pb::CorrelateResponse, NodeError> {
    let mut out = pb::CorrelateResponse {
        correlation_limit: u32::try_from(node.correlation().limit).unwrap_or(u32::MAX),
        reindex: node
            .store()
            .selector_reindex()?
            .map(|(done, all)| format!("{done}/{all}"))
            .unwrap_or_default(),
        ..Default::default()
    };
    let asked = [
        !req.id.trim().is_empty(),
        !req.selector.trim().is_empty(),
        req.top,
    ];
    if asked.iter().filter(|a| **a).count() != 1 {
        return Err(NodeError::Invalid(
            "correlate needs exactly one of: a record id, a selector (kind:value), or top".into(),
        ));
    }
    if req.top {
        let n = if req.limit == 0 {
            20
        } else {
            req.limit as usize
        };
        out.top = node
            .top_values(n.min(10_000))?
            .into_iter()
            .map(|t| pb::SelectorCount {
                selector: t.key,
                entries: t.entries,
                suppressed: t.suppressed.map(|s| s.to_string()).unwrap_or_default(),
            })
            .collect();
    } else if !req.id.trim().is_empty() {
        let (s, links) = node.correlate_record(req.id.trim(), req.all)?;
        out.id = s.record.id().to_hex();
        out.selectors = links.iter().map(links_pb).collect();
    } else {
        let l = node.correlate_value(req.selector.trim(), req.all)?;
        out.selectors = vec![links_pb(&l)];
    }
    Ok(out)
}
