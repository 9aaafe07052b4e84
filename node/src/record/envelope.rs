//! A record's envelope: the few fields every sharing decision reads
//! (author, handling, kind, times), kept beside the verbatim signed bytes
//! when the record is stored, so a source decides who may get a record
//! without decoding its body or hashing it again.

use wildnet_proto::v1 as pb;

/// What the policy needs of a record, taken from its verified body when it
/// was stored. Field numbers are the on-disk encoding (storage keeps it in
/// the record's row).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Envelope {
    /// The author agency.
    #[prost(string, tag = "1")]
    pub author: String,
    /// The body's handling, as signed.
    #[prost(message, optional, tag = "2")]
    pub handling: Option<pb::Handling>,
    /// The kind, as [`super::kind_of`] names it.
    #[prost(string, tag = "3")]
    pub kind: String,
    /// Unix ms, as signed.
    #[prost(int64, tag = "4")]
    pub created_at: i64,
    /// Unix ms; 0 for never.
    #[prost(int64, tag = "5")]
    pub expires_at: i64,
}

impl Envelope {
    /// The envelope of a body.
    pub fn of(body: &pb::RecordBody) -> Envelope {
        Envelope {
            author: body.author.clone(),
            handling: body.handling.clone(),
            kind: super::kind_of(body).to_string(),
            created_at: body.created_at,
            expires_at: body.expires_at,
        }
    }

    /// True for the records of a coordinated operation (proposal,
    /// responses, updates), as [`super::operation::is_operation`].
    pub fn is_operation(&self) -> bool {
        OPERATION_KINDS.contains(&self.kind.as_str())
    }
}

/// The kinds of an operation's records.
const OPERATION_KINDS: [&str; 3] = [
    "operation_proposal",
    "operation_response",
    "operation_update",
];

/// What a sharing decision reads of a record: implemented by the body
/// itself and by its stored [`Envelope`], so both give the same answer.
pub trait Handled {
    /// The author agency.
    fn author(&self) -> &str;
    /// The handling, if any.
    fn handling(&self) -> Option<&pb::Handling>;
    /// The kind name.
    fn kind(&self) -> &str;
    /// Unix ms; 0 for never.
    fn expires_at(&self) -> i64;
    /// A coordinated operation's record.
    fn is_operation(&self) -> bool;
}

impl Handled for pb::RecordBody {
    fn author(&self) -> &str {
        &self.author
    }
    fn handling(&self) -> Option<&pb::Handling> {
        self.handling.as_ref()
    }
    fn kind(&self) -> &str {
        super::kind_of(self)
    }
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
    fn is_operation(&self) -> bool {
        super::operation::is_operation(self)
    }
}

impl Handled for Envelope {
    fn author(&self) -> &str {
        &self.author
    }
    fn handling(&self) -> Option<&pb::Handling> {
        self.handling.as_ref()
    }
    fn kind(&self) -> &str {
        &self.kind
    }
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
    fn is_operation(&self) -> bool {
        Envelope::is_operation(self)
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// Every payload kind: the envelope says what the body says, and it
    /// survives its encoding.
    #[test]
    fn the_envelope_agrees_with_the_body() {
        use pb::record_body::Payload as P;
        let payloads = [
            P::Listing(Default::default()),
            P::Entity(Default::default()),
            P::Seizure(Default::default()),
            P::Note(Default::default()),
            P::OperationProposal(Default::default()),
            P::OperationResponse(Default::default()),
            P::OperationUpdate(Default::default()),
            P::Retraction(Default::default()),
        ];
        for p in payloads {
            let body = pb::RecordBody {
                author: "KE-KWS".into(),
                created_at: 1_700_000_000_000,
                expires_at: 1_800_000_000_000,
                handling: Some(pb::Handling {
                    tlp: pb::Tlp::Amber as i32,
                    scope: pb::Scope::Groups as i32,
                    groups: vec!["MEKONG".into()],
                    ..Default::default()
                }),
                payload: Some(p),
                ..Default::default()
            };
            let e =
                Envelope::decode(Envelope::of(&body).encode_to_vec().as_slice()).expect("decode");
            assert_eq!(Handled::author(&e), Handled::author(&body));
            assert_eq!(Handled::handling(&e), Handled::handling(&body));
            assert_eq!(Handled::kind(&e), Handled::kind(&body));
            assert_eq!(Handled::expires_at(&e), Handled::expires_at(&body));
            assert_eq!(Handled::is_operation(&e), Handled::is_operation(&body));
            assert_eq!(e.created_at, body.created_at);
        }
    }
}
