//! The API views of stored records: the signed bytes as stored, with the
//! signature verified again on read.

use wildnet_proto::v1 as pb;

use crate::storage::Stored;

/// The API view of a stored record; the signature is re-verified on read.
pub fn stored_pb(s: &Stored) -> pb::StoredRecord {
    let status = s.record.signature_status();
    stored_view(s, status)
}

/// The API views of many stored records, their signatures re-verified in
/// batches across the cores ([`crate::record::Record::signature_statuses`]).
pub fn stored_pbs(list: &[Stored]) -> Vec<pb::StoredRecord> {
    let records: Vec<&crate::record::Record> = list.iter().map(|s| &s.record).collect();
    let statuses = crate::record::Record::signature_statuses(&records);
    list.iter()
        .zip(statuses)
        .map(|(s, status)| stored_view(s, status))
        .collect()
}

/// What a query page says of a signature it did not re-check.
pub(super) const VERIFIED_AT_INGEST: &str = "verified at ingest";

/// The API views of a query page: signatures re-checked when `verify`,
/// else reported as checked when the records were stored (every stored
/// record was: a publish signs it, a pull verifies it before storing).
pub(super) fn page_pbs(list: &[Stored], verify: bool) -> Vec<pb::StoredRecord> {
    if verify {
        return stored_pbs(list);
    }
    list.iter()
        .map(|s| {
            let mut v = stored_view(s, Ok(()));
            v.signature = VERIFIED_AT_INGEST.into();
            v
        })
        .collect()
}

fn stored_view(s: &Stored, status: Result<(), crate::record::RecordError>) -> pb::StoredRecord {
    pb::StoredRecord {
        id: s.record.id().to_hex(),
        signed: Some(s.record.signed().clone()),
        seq: s.seq,
        stored_at: s.stored_at,
        signature: match status {
            Ok(()) => "valid".into(),
            Err(e) => e.to_string(),
        },
        superseded_by: s.superseded_by.map(|i| i.to_hex()).unwrap_or_default(),
        received_from: s.received_from.clone(),
        // Storage internal; not part of the API view.
        index_batch: 0,
    }
}
