//! The row a record is stored as in `seq_record`: storage's own type, not
//! the API's `StoredRecord`. Its field numbers are the ones rows have had
//! on disk since schema 1 (they were written as `StoredRecord`), so every
//! existing row reads as it is; fields of older rows that rows no longer
//! carry are skipped.

use wildnet_proto::v1 as pb;

/// One stored record.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Row {
    /// The signed record, its bytes verbatim.
    #[prost(message, optional, tag = "2")]
    pub signed: Option<pb::SignedRecord>,
    /// Position in this node's feed.
    #[prost(uint64, tag = "3")]
    pub seq: u64,
    /// When this node stored it, unix ms.
    #[prost(int64, tag = "4")]
    pub stored_at: i64,
    /// The peer it was received from; empty for this node's own records.
    #[prost(string, tag = "7")]
    pub received_from: String,
    /// The group-commit batch whose index blocks hold its entries.
    #[prost(uint64, tag = "8")]
    pub index_batch: u64,
    /// The record id (SHA-256 of the body), so reads need not hash again.
    /// Empty in rows stored before envelopes.
    #[prost(bytes = "vec", tag = "9")]
    pub id: Vec<u8>,
    /// What sharing decisions read, from the verified body; absent in rows
    /// stored before envelopes (their body is decoded instead).
    #[prost(message, optional, tag = "10")]
    pub envelope: Option<crate::record::Envelope>,
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// A row and the `StoredRecord` it used to be written as are the same
    /// bytes, both ways.
    #[test]
    fn rows_read_what_stored_records_wrote() {
        let signed = pb::SignedRecord {
            body: vec![1, 2, 3],
            signature: vec![4; 64],
            signer_public_key: vec![5; 32],
        };
        let old = pb::StoredRecord {
            signed: Some(signed.clone()),
            seq: 7,
            stored_at: 1_700_000_000_000,
            received_from: "ZA-DFFE".into(),
            index_batch: 5,
            ..Default::default()
        };
        let row = Row::decode(old.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(
            (
                row.signed.as_ref(),
                row.seq,
                row.stored_at,
                row.received_from.as_str(),
                row.index_batch
            ),
            (Some(&signed), 7, 1_700_000_000_000, "ZA-DFFE", 5)
        );
        assert_eq!(row.encode_to_vec(), old.encode_to_vec());
    }
}
