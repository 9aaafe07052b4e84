//! Signed delivery receipts (pure): a holder's statement, signed with its
//! Ed25519 record key, that it stored some of an author's records.
//!
//! Signed over `b"wildnet-receipt-v1\0" || body`, over the verbatim body
//! bytes, like records. The key must be bound to the holder in the
//! manifest at the receipt's time (the same [`KeyBinding`] as records).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use prost::Message;
use wildnet_proto::v1 as pb;

use crate::record::KeyBinding;

const CONTEXT: &[u8] = b"wildnet-receipt-v1\0";

/// Most ids in one receipt.
pub const MAX_IDS: usize = 4096;

/// Why a receipt is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    /// The body does not decode or is out of bounds.
    #[error("malformed receipt: {0}")]
    Malformed(String),
    /// The signature does not verify.
    #[error("receipt signature does not verify")]
    BadSignature,
    /// The key is not the holder's under the manifest.
    #[error("receipt key is not {holder}'s: {why}")]
    Key {
        /// The claimed holder.
        holder: String,
        /// Why.
        why: String,
    },
}

fn input(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(CONTEXT.len() + body.len());
    v.extend_from_slice(CONTEXT);
    v.extend_from_slice(body);
    v
}

/// Signs a receipt.
pub fn sign(body: &pb::ReceiptBody, key: &SigningKey) -> pb::Receipt {
    let bytes = body.encode_to_vec();
    pb::Receipt {
        signature: key.sign(&input(&bytes)).to_bytes().to_vec(),
        public_key: key.verifying_key().to_bytes().to_vec(),
        body: bytes,
    }
}

/// Verifies a receipt and returns its body.
pub fn verify(r: &pb::Receipt, trust: &dyn KeyBinding) -> Result<pb::ReceiptBody, ReceiptError> {
    let key: [u8; 32] = r
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| ReceiptError::Malformed("public key is not 32 bytes".into()))?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|e| ReceiptError::Malformed(format!("public key: {e}")))?;
    let sig = Signature::from_slice(&r.signature).map_err(|_| ReceiptError::BadSignature)?;
    if key.is_weak() {
        return Err(ReceiptError::BadSignature);
    }
    key.verify_strict(&input(&r.body), &sig)
        .map_err(|_| ReceiptError::BadSignature)?;
    let body = pb::ReceiptBody::decode(r.body.as_slice())
        .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
    if body.ids.is_empty() || body.ids.len() > MAX_IDS || body.ids.iter().any(|i| i.len() != 32) {
        return Err(ReceiptError::Malformed(format!(
            "{} ids; 1 to {MAX_IDS} ids of 32 bytes expected",
            body.ids.len()
        )));
    }
    trust
        .check(&body.holder, &key, body.at)
        .map_err(|e| ReceiptError::Key {
            holder: body.holder.clone(),
            why: e.to_string(),
        })?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::LocalTrust;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn body() -> pb::ReceiptBody {
        pb::ReceiptBody {
            holder: "ZA-DFFE".into(),
            author: "KE-KWS".into(),
            at: 1_800_000_000_000,
            ids: vec![vec![7; 32], vec![8; 32]],
        }
    }

    fn trust(k: &SigningKey) -> LocalTrust {
        LocalTrust {
            agency: "ZA-DFFE".parse().expect("agency"),
            key: k.verifying_key(),
        }
    }

    #[test]
    fn signed_receipt_verifies_for_its_holder() {
        let k = key(1);
        let r = sign(&body(), &k);
        assert_eq!(verify(&r, &trust(&k)), Ok(body()));
    }

    #[test]
    fn tampered_or_foreign_receipts_are_refused() {
        let k = key(1);
        let mut r = sign(&body(), &k);
        r.body[5] ^= 1;
        assert_eq!(verify(&r, &trust(&k)), Err(ReceiptError::BadSignature));
        // Signed by another key: the signature holds but the key is not ZA's.
        let other = sign(&body(), &key(2));
        assert!(matches!(
            verify(&other, &trust(&k)),
            Err(ReceiptError::Key { .. })
        ));
        let mut empty = body();
        empty.ids.clear();
        assert!(matches!(
            verify(&sign(&empty, &k), &trust(&k)),
            Err(ReceiptError::Malformed(_))
        ));
        let mut short = body();
        short.ids.push(vec![1, 2]);
        assert!(matches!(
            verify(&sign(&short, &k), &trust(&k)),
            Err(ReceiptError::Malformed(_))
        ));
    }
}
