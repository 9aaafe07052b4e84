//! Admission requests: an agency's proof that it holds both of its keys.
//! The secretariat checks one before it admits the agency (pure).

use ed25519_dalek::VerifyingKey;
use prost::Message;
use wildnet_proto::v1 as pb;

use crate::record::AgencyId;

/// The context prefix both admission signatures cover.
pub const CONTEXT: &[u8] = b"wildnet-admission-v1\0";

/// An admission request that does not verify.
#[derive(Debug, thiserror::Error)]
#[error("admission request refused: {0}")]
pub struct AdmissionError(pub String);

/// Checks both proofs of possession and returns the request body.
pub fn verify(req: &pb::AdmissionRequest) -> Result<pb::AdmissionRequestBody, AdmissionError> {
    let bad = |m: &str| AdmissionError(m.to_string());
    let body = pb::AdmissionRequestBody::decode(req.body.as_slice())
        .map_err(|e| AdmissionError(format!("body does not decode: {e}")))?;
    body.agency
        .parse::<AgencyId>()
        .map_err(|e| AdmissionError(e.to_string()))?;
    let mut input = CONTEXT.to_vec();
    input.extend_from_slice(&req.body);
    let key: [u8; 32] = body
        .signing_public_key
        .as_slice()
        .try_into()
        .map_err(|_| bad("signing public key is not 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| bad("signing public key is invalid"))?;
    if key.is_weak() {
        return Err(bad(
            "signing public key is a weak (small-order) Ed25519 key: make a new one with `wildnet init`",
        ));
    }
    let sig: [u8; 64] = req
        .signing_signature
        .as_slice()
        .try_into()
        .map_err(|_| bad("Ed25519 signature is not 64 bytes"))?;
    key.verify_strict(&input, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| bad("the Ed25519 proof of possession does not verify"))?;
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        &body.tls_public_key,
    )
    .verify(&input, &req.tls_signature)
    .map_err(|_| bad("the TLS key proof of possession does not verify"))?;
    Ok(body)
}
