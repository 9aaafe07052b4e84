//! The Agency API's read-side helpers: stats by field, and how a query
//! is described in the audit log (the dashboard's search is audited the
//! same way).

use tonic::Status;
use wildnet_proto::v1 as pb;

use super::status::status;
use crate::node::Node;
use crate::record::terms::Field;

/// Record and tombstone counts, and the counts by `by` (a field name;
/// empty for none).
pub(super) fn stats(node: &Node, by: &str) -> Result<pb::StatsResponse, Status> {
    let store = node.store();
    let buckets = if by.trim().is_empty() {
        Vec::new()
    } else {
        let field = Field::by_name(by.trim()).ok_or_else(|| {
            Status::invalid_argument(format!(
                "cannot group by {by:?}: use species, country, platform, author, kind, appendix, tag, seller or code"
            ))
        })?;
        store
            .counts(field)
            .map_err(|e| status(e.into()))?
            .into_iter()
            .map(|(key, count)| pb::StatsBucket {
                key: if field == Field::Species {
                    crate::species::binomial_case(&key)
                } else {
                    key
                },
                count,
            })
            .collect()
    };
    Ok(pb::StatsResponse {
        records: store.record_count().map_err(|e| status(e.into()))?,
        tombstones: store.tombstone_count().map_err(|e| status(e.into()))?,
        buckets,
    })
}

/// The filters of a query, for the audit log (values, not results).
pub(crate) fn describe_query(q: &pb::QueryRequest, n: usize) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("kind", &q.kind),
        ("species", &q.species),
        ("appendix", &q.appendix),
        ("country", &q.country),
        ("platform", &q.platform),
        ("seller", &q.seller),
        ("selector", &q.selector),
        ("author", &q.author),
        ("tag", &q.tag),
        ("text", &q.text),
        ("code", &q.code),
    ] {
        if !v.is_empty() {
            parts.push(format!("{k}={v:?}"));
        }
    }
    if q.since != 0 {
        parts.push(format!("since={}", q.since));
    }
    if q.until != 0 {
        parts.push(format!("until={}", q.until));
    }
    parts.push(format!("results={n}"));
    parts.join(" ")
}
