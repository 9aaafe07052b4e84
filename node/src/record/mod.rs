//! Records: ids, agency ids, and the one place that signs and verifies.
//!
//! A record is signed with Ed25519 over `b"wildnet-record-v1\0" || body`,
//! where `body` is the exact protobuf bytes of a `RecordBody`. Those bytes
//! are kept verbatim from signing (or from the wire) to storage: nothing
//! here re-encodes a body before verifying it. The id is SHA-256(body).
//!
//! This module does no I/O. Who may sign for an agency is asked of a
//! [`KeyBinding`], so the same verification serves local records now and
//! federation records (checked against the manifest) later.

mod envelope;
mod id;
pub mod normalize;
pub mod operation;
pub mod selector;
pub mod terms;
pub mod validate;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use prost::Message;
use wildnet_proto::v1 as pb;

pub use envelope::{Envelope, Handled};
pub use id::{AgencyId, IdError, RecordId};
pub use validate::{Limits, ValidationError};

/// The context prefix every record signature covers.
pub const SIGNING_CONTEXT: &[u8] = b"wildnet-record-v1\0";
/// The body schema version this node writes and accepts.
pub const SCHEMA_VERSION: u32 = 1;
/// How far in the future `created_at` may be by default, in milliseconds
/// (`[limits] clock_skew_secs`).
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// Why a record is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// The body is not a decodable `RecordBody`.
    #[error("body is not a valid RecordBody protobuf: {0}")]
    MalformedBody(String),
    /// The signature is not 64 bytes.
    #[error("signature must be 64 bytes, got {0}")]
    SignatureLength(usize),
    /// The signer key is not a valid Ed25519 public key.
    #[error("signer public key is not a valid Ed25519 key ({0} bytes)")]
    BadSignerKey(usize),
    /// The signature does not verify over the body.
    #[error("signature does not verify: the body, signature or signer key was altered")]
    BadSignature,
    /// The signer key is of small order (a weak key): any signature by it
    /// proves nothing.
    #[error("signer public key is a weak (small-order) Ed25519 key: refused")]
    WeakSignerKey,
    /// The signer key is not bound to the author.
    #[error("signer key {key} is not a signing key of author {author}")]
    UnboundKey {
        /// Author named in the body.
        author: String,
        /// Short fingerprint of the signer key.
        key: String,
    },
    /// The signer key was revoked before the record was created.
    #[error("signer key {key} of {author} was revoked at {revoked_at} ms, before created_at")]
    RevokedKey {
        /// Author named in the body.
        author: String,
        /// Short fingerprint of the signer key.
        key: String,
        /// Revocation time, unix ms.
        revoked_at: i64,
    },
    /// `created_at` is too far in the future.
    #[error(
        "created_at {created_at} is {ahead_ms} ms ahead of this node's clock ({now}), over the allowed {allowed_ms} ms: check the clocks of both nodes (NTP); [limits] clock_skew_secs sets the allowance"
    )]
    FutureTimestamp {
        /// The body's created_at.
        created_at: i64,
        /// The verifier's clock.
        now: i64,
        /// How far ahead it is.
        ahead_ms: i64,
        /// The allowance in force.
        allowed_ms: i64,
    },
    /// The body breaks a schema rule.
    #[error("invalid body: {0}")]
    Invalid(#[from] ValidationError),
    /// The body is larger than the configured limit.
    #[error("body is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Body size.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
}

impl RecordError {
    /// A short class of the refusal, for counting (`/metrics` labels).
    pub fn reason(&self) -> &'static str {
        match self {
            RecordError::MalformedBody(_) => "malformed",
            RecordError::SignatureLength(_) | RecordError::BadSignature => "signature",
            RecordError::BadSignerKey(_) | RecordError::WeakSignerKey => "signer-key",
            RecordError::UnboundKey { .. } => "unbound-key",
            RecordError::RevokedKey { .. } => "revoked-key",
            RecordError::FutureTimestamp { .. } => "future",
            RecordError::Invalid(_) => "invalid",
            RecordError::TooLarge { .. } => "too-large",
        }
    }
}

/// Answers whether a key may sign for an agency at a time.
pub trait KeyBinding {
    /// `Ok` when `key` is a signing key of `author` not revoked before `at`.
    fn check(&self, author: &str, key: &VerifyingKey, at: i64) -> Result<(), RecordError>;
}

/// The trust of a node with no federation yet: only its own agency and key.
#[derive(Debug, Clone)]
pub struct LocalTrust {
    /// The node's agency.
    pub agency: AgencyId,
    /// The node's signing key.
    pub key: VerifyingKey,
}

impl KeyBinding for LocalTrust {
    fn check(&self, author: &str, key: &VerifyingKey, _at: i64) -> Result<(), RecordError> {
        if author == self.agency.as_str() && key == &self.key {
            Ok(())
        } else {
            Err(RecordError::UnboundKey {
                author: author.to_string(),
                key: fingerprint(key),
            })
        }
    }
}

/// Short printable fingerprint of a signing key: the first 16 hex of SHA-256.
pub fn fingerprint(key: &VerifyingKey) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(key.as_bytes())[..8])
}

/// A verified (or freshly signed) record: the verbatim signed bytes plus the
/// decoded body, which is only ever read, never re-encoded for signing.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    id: RecordId,
    signed: pb::SignedRecord,
    body: pb::RecordBody,
}

impl Record {
    /// Encodes `body` once, signs those bytes and keeps them.
    pub fn sign(body: pb::RecordBody, key: &SigningKey) -> Record {
        let bytes = body.encode_to_vec();
        let signature = key.sign(&signing_input(&bytes));
        let id = RecordId::of_body(&bytes);
        Record {
            id,
            signed: pb::SignedRecord {
                body: bytes,
                signature: signature.to_bytes().to_vec(),
                signer_public_key: key.verifying_key().to_bytes().to_vec(),
            },
            body,
        }
    }

    /// Verifies a signed record from outside (the wire, a file) and returns
    /// it with its decoded body. Checks, in order: sizes, signature over the
    /// verbatim bytes, decoding, well-formedness, clock skew, key binding.
    pub fn verify(
        signed: pb::SignedRecord,
        trust: &dyn KeyBinding,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Record, RecordError> {
        let id = RecordId::of_body(&signed.body);
        Record::verify_hashed(signed, id, trust, limits, now_ms)
    }

    /// [`Record::verify`] for a caller that hashed the body already (the
    /// puller, which looks the id up first): `id` must be
    /// `RecordId::of_body(&signed.body)`.
    pub(crate) fn verify_hashed(
        signed: pb::SignedRecord,
        id: RecordId,
        trust: &dyn KeyBinding,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Record, RecordError> {
        debug_assert!(id == RecordId::of_body(&signed.body));
        if signed.body.len() > limits.max_body_bytes {
            return Err(RecordError::TooLarge {
                size: signed.body.len(),
                limit: limits.max_body_bytes,
            });
        }
        let key = verify_signature(&signed)?;
        // SAFETY (trust): the signature over these exact bytes verified, so
        // decoding them can only show what the key holder signed.
        let body = pb::RecordBody::decode(signed.body.as_slice())
            .map_err(|e| RecordError::MalformedBody(e.to_string()))?;
        validate::validate_body(&body, limits)?;
        if body.created_at > now_ms.saturating_add(limits.max_clock_skew_ms) {
            return Err(RecordError::FutureTimestamp {
                created_at: body.created_at,
                now: now_ms,
                ahead_ms: body.created_at - now_ms,
                allowed_ms: limits.max_clock_skew_ms,
            });
        }
        trust.check(&body.author, &key, body.created_at)?;
        Ok(Record { id, signed, body })
    }

    /// Rebuilds a record read back from this node's own store, which only
    /// holds records that passed [`Record::verify`] or were signed here.
    /// The signature is not re-checked; use [`Record::signature_status`].
    pub fn from_stored(signed: pb::SignedRecord) -> Result<Record, RecordError> {
        let body = pb::RecordBody::decode(signed.body.as_slice())
            .map_err(|e| RecordError::MalformedBody(e.to_string()))?;
        Ok(Record {
            id: RecordId::of_body(&signed.body),
            signed,
            body,
        })
    }

    /// Re-verifies the signature over the stored bytes.
    pub fn signature_status(&self) -> Result<(), RecordError> {
        verify_signature(&self.signed).map(|_| ())
    }

    /// [`Record::signature_status`] of many stored records at once: in
    /// batches of 64 (one batch equation, about twice as fast per
    /// signature) spread over the cores; a batch that fails is checked one
    /// by one, so each record gets its own verdict. Only for records read
    /// back from this node's store, which all passed the single check
    /// before they were stored: a signature valid under it is valid under
    /// the batch equation too, and a record altered on disk fails both
    /// (the batch equation accepts more only for signatures crafted with
    /// small-order parts by the key's holder).
    pub fn signature_statuses(records: &[&Record]) -> Vec<Result<(), RecordError>> {
        const BATCH: usize = 64;
        let chunks: Vec<&[&Record]> = records.chunks(BATCH).collect();
        crate::limits::par_map(chunks, |chunk| {
            if batch_ok(chunk) {
                chunk.iter().map(|_| Ok(())).collect::<Vec<_>>()
            } else {
                chunk.iter().map(|r| r.signature_status()).collect()
            }
        })
        .into_iter()
        .flatten()
        .collect()
    }

    /// The record id, SHA-256 of the body bytes.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The decoded body.
    pub fn body(&self) -> &pb::RecordBody {
        &self.body
    }

    /// The signed record as it travels.
    pub fn signed(&self) -> &pb::SignedRecord {
        &self.signed
    }

    /// The record's kind, as shown to users and used in queries.
    pub fn kind(&self) -> &'static str {
        kind_of(&self.body)
    }

    /// [`fingerprint`] of the key that signed it.
    pub fn signer_fingerprint(&self) -> String {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(&self.signed.signer_public_key)[..8])
    }
}

/// The bytes a record signature covers.
fn signing_input(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(SIGNING_CONTEXT.len() + body.len());
    v.extend_from_slice(SIGNING_CONTEXT);
    v.extend_from_slice(body);
    v
}

/// Whether every signature of `chunk` verifies, in one batch equation.
fn batch_ok(chunk: &[&Record]) -> bool {
    let mut msgs = Vec::with_capacity(chunk.len());
    let mut sigs = Vec::with_capacity(chunk.len());
    let mut keys = Vec::with_capacity(chunk.len());
    for r in chunk {
        let s = &r.signed;
        let (Ok(sig), Ok(key)) = (
            <[u8; 64]>::try_from(s.signature.as_slice()),
            <[u8; 32]>::try_from(s.signer_public_key.as_slice()),
        ) else {
            return false;
        };
        let Ok(key) = VerifyingKey::from_bytes(&key) else {
            return false;
        };
        msgs.push(signing_input(&s.body));
        sigs.push(Signature::from_bytes(&sig));
        keys.push(key);
    }
    let m: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    ed25519_dalek::verify_batch(&m, &sigs, &keys).is_ok()
}

fn verify_signature(signed: &pb::SignedRecord) -> Result<VerifyingKey, RecordError> {
    let sig: [u8; 64] = signed
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| RecordError::SignatureLength(signed.signature.len()))?;
    let key_bytes: [u8; 32] = signed
        .signer_public_key
        .as_slice()
        .try_into()
        .map_err(|_| RecordError::BadSignerKey(signed.signer_public_key.len()))?;
    let key = VerifyingKey::from_bytes(&key_bytes)
        .map_err(|_| RecordError::BadSignerKey(key_bytes.len()))?;
    if key.is_weak() {
        return Err(RecordError::WeakSignerKey);
    }
    // Strict: small-order components and non-canonical encodings are
    // refused, so a signature is valid here exactly when it is valid
    // everywhere (RFC 8032's cofactorless check, as dalek's
    // `verify_strict` does).
    key.verify_strict(&signing_input(&signed.body), &Signature::from_bytes(&sig))
        .map_err(|_| RecordError::BadSignature)?;
    Ok(key)
}

/// Every payload kind name, as used by `query --kind` and stats.
pub const KINDS: [&str; 8] = [
    "listing",
    "entity",
    "seizure",
    "note",
    "operation_proposal",
    "operation_response",
    "operation_update",
    "retraction",
];

/// The kind name of a body's payload; "none" when it has none.
pub fn kind_of(body: &pb::RecordBody) -> &'static str {
    use pb::record_body::Payload as P;
    match &body.payload {
        Some(P::Listing(_)) => "listing",
        Some(P::Entity(_)) => "entity",
        Some(P::Seizure(_)) => "seizure",
        Some(P::Note(_)) => "note",
        Some(P::OperationProposal(_)) => "operation_proposal",
        Some(P::OperationResponse(_)) => "operation_response",
        Some(P::OperationUpdate(_)) => "operation_update",
        Some(P::Retraction(_)) => "retraction",
        None => "none",
    }
}

#[cfg(test)]
mod tests;
