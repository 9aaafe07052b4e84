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
