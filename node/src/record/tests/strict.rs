//! Strict Ed25519: the known weak-key forgery and a second encoding of a
//! signature are refused.

use ed25519_dalek::Signature;
use prost::Message;
use wildnet_proto::v1 as pb;

use super::{NOW, key, listing_body, verify};
use crate::record::{Limits, LocalTrust, Record, RecordError, VerifyingKey, signing_input};

/// The identity point: an Ed25519 public key of small order (a weak key).
const IDENTITY: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 1;
    b
};

/// The known weak-key forgery: with the identity as key, `R` the identity
/// and `s` = 0, the cofactorless check holds for every message, so a
/// lenient verifier accepts it. The node refuses the key.
#[test]
fn a_weak_key_forgery_is_refused() {
    use ed25519_dalek::Verifier;
    let weak = VerifyingKey::from_bytes(&IDENTITY).expect("the identity decodes");
    assert!(weak.is_weak());
    let body = listing_body().encode_to_vec();
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&IDENTITY);
    let forged = Signature::from_bytes(&sig);
    assert!(
        weak.verify(&signing_input(&body), &forged).is_ok(),
        "the vector is a forgery the lenient check accepts"
    );
    let signed = pb::SignedRecord {
        body,
        signature: sig.to_vec(),
        signer_public_key: IDENTITY.to_vec(),
    };
    let trust = LocalTrust {
        agency: "KE-KWS".parse().expect("valid id"),
        key: weak,
    };
    let e = Record::verify(signed, &trust, &Limits::default(), NOW).expect_err("accepted");
    assert_eq!(e, RecordError::WeakSignerKey);
}

/// Malleability: `s + L` is the same scalar as `s`, but a second encoding
/// of the signature (and so a second byte string for the same record) is
/// refused.
#[test]
fn a_non_canonical_signature_scalar_is_refused() {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let k = key(1);
    let mut signed = Record::sign(listing_body(), &k).signed().clone();
    let mut carry = 0u16;
    for (i, l) in L.iter().enumerate() {
        let sum = u16::from(signed.signature[32 + i]) + u16::from(*l) + carry;
        signed.signature[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    assert_eq!(verify(signed, &k), Err(RecordError::BadSignature));
}

/// A small-order `R` under a sound key: only the key's holder can make
/// it. With `R` the identity and `s = k·a` (`a` the secret scalar, `k` the
/// challenge over this `R`), the cofactorless check `[s]B − [k]A = R`
/// holds, so a lenient verifier takes it as a second valid signature of
/// the same record; the strict check refuses the small-order `R`.
#[test]
fn a_small_order_r_under_a_sound_key_is_refused() {
    use curve25519_dalek::Scalar;
    use ed25519_dalek::Verifier;
    use sha2::{Digest, Sha512};
    let k = key(1);
    let body = listing_body().encode_to_vec();
    let message = signing_input(&body);
    let a = k.to_scalar();
    let public = k.verifying_key();
    let mut h = Sha512::new();
    h.update(IDENTITY);
    h.update(public.as_bytes());
    h.update(&message);
    let challenge = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&IDENTITY);
    sig[32..].copy_from_slice((challenge * a).as_bytes());
    let second = Signature::from_bytes(&sig);
    assert!(!public.is_weak());
    assert!(
        public.verify(&message, &second).is_ok(),
        "the vector is a second signature the lenient check accepts"
    );
    assert!(public.verify_strict(&message, &second).is_err());
    let signed = pb::SignedRecord {
        body,
        signature: sig.to_vec(),
        signer_public_key: public.to_bytes().to_vec(),
    };
    assert_eq!(verify(signed, &k), Err(RecordError::BadSignature));
}
