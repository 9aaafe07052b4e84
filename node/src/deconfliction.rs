//! Deconfliction's cryptography: an oblivious PRF (RFC 9497, OPRF mode,
//! ristretto255-SHA512, the `voprf` crate) over correlation keys, so that
//! an agency can ask a peer "do you hold this selector?" without the peer
//! learning the selector, and learn nothing about what it did not ask.
//!
//! - The answering node keeps an OPRF key and publishes a **filter**: the
//!   first 16 bytes of `PRF(key, correlation key)` ([`Token`]) for every
//!   correlation key of the records it authored.
//! - The asker blinds each selector ([`blind`]); the peer evaluates the
//!   blinded element with its key ([`OprfKey::evaluate_blinded`]) without
//!   seeing the input; the asker unblinds ([`Blinded::finalize`]) to the
//!   same token the peer's filter holds, and tests its copy of the filter.
//!
//! A peer's filter reveals nothing about its values without its key, and
//! the asker can only compute a token through the peer's (rate-limited)
//! evaluation. Pure: the randomness is passed in.

use rand_core::{CryptoRng, RngCore};
use voprf::{BlindedElement, EvaluationElement, OprfClient, OprfServer, Ristretto255};

/// A filter entry: the first 16 bytes of the PRF output.
pub type Token = [u8; 16];

/// Length of a serialised key, blinded element or evaluated element.
pub const ELEMENT_LEN: usize = 32;

/// A node's OPRF key.
#[derive(Clone)]
pub struct OprfKey(OprfServer<Ristretto255>);

impl std::fmt::Debug for OprfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OprfKey({})", hex::encode(self.fingerprint()))
    }
}

fn truncate(out: &[u8]) -> Token {
    let mut t = [0u8; 16];
    t.copy_from_slice(&out[..16]);
    t
}

impl OprfKey {
    /// A fresh random key.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Result<OprfKey, String> {
        OprfServer::new(rng)
            .map(OprfKey)
            .map_err(|e| format!("cannot make an OPRF key: {e:?}"))
    }

    /// The key from its 32 bytes.
    pub fn from_bytes(b: &[u8]) -> Result<OprfKey, String> {
        OprfServer::deserialize(b)
            .map(OprfKey)
            .map_err(|e| format!("not an OPRF key (32-byte ristretto255 scalar): {e:?}"))
    }

    /// The key's 32 bytes (secret: store them like a private key).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.serialize().to_vec()
    }

    /// A public handle on the key, to notice it changed: SHA-256 of the
    /// token of a fixed input (reveals nothing of the key).
    pub fn fingerprint(&self) -> [u8; 8] {
        use sha2::Digest as _;
        let t = self.token("wildnet-oprf-fingerprint").unwrap_or_default();
        let h = sha2::Sha256::digest(t);
        let mut f = [0u8; 8];
        f.copy_from_slice(&h[..8]);
        f
    }

    /// This key's filter token of a correlation key.
    pub fn token(&self, key: &str) -> Result<Token, String> {
        let out = self
            .0
            .evaluate(key.as_bytes())
            .map_err(|e| format!("cannot evaluate {} bytes: {e:?}", key.len()))?;
        Ok(truncate(&out))
    }

    /// Evaluates a blinded element from an asker (who alone knows the
    /// input).
    pub fn evaluate_blinded(&self, blinded: &[u8]) -> Result<Vec<u8>, String> {
        let b = BlindedElement::<Ristretto255>::deserialize(blinded)
            .map_err(|e| format!("not a blinded ristretto255 element: {e:?}"))?;
        Ok(self.0.blind_evaluate(&b).serialize().to_vec())
    }
}

/// A selector blinded for a peer's evaluation.
pub struct Blinded {
    state: OprfClient<Ristretto255>,
    input: String,
    /// What is sent to the peer.
    pub message: Vec<u8>,
}

/// Blinds a correlation key.
pub fn blind(key: &str, rng: &mut (impl RngCore + CryptoRng)) -> Result<Blinded, String> {
    let r = OprfClient::<Ristretto255>::blind(key.as_bytes(), rng)
        .map_err(|e| format!("cannot blind {} bytes: {e:?}", key.len()))?;
    Ok(Blinded {
        state: r.state,
        input: key.to_string(),
        message: r.message.serialize().to_vec(),
    })
}

impl Blinded {
    /// The token, from the peer's evaluation of [`Blinded::message`].
    pub fn finalize(&self, evaluated: &[u8]) -> Result<Token, String> {
        let e = EvaluationElement::<Ristretto255>::deserialize(evaluated)
            .map_err(|e| format!("the peer's evaluation is not an element: {e:?}"))?;
        let out = self
            .state
            .finalize(self.input.as_bytes(), &e)
            .map_err(|e| format!("cannot finalize: {e:?}"))?;
        Ok(truncate(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blinded_evaluation_gives_the_filter_token() {
        let mut rng = rand_core::OsRng;
        let key = OprfKey::generate(&mut rng).expect("key");
        let b = blind("phone:+254712345678", &mut rng).expect("blind");
        assert!(
            !b.message.windows(8).any(|w| b"+2547123".starts_with(w)),
            "the blinded element carries nothing of the value"
        );
        let evaluated = key.evaluate_blinded(&b.message).expect("evaluate");
        let token = b.finalize(&evaluated).expect("finalize");
        assert_eq!(token, key.token("phone:+254712345678").expect("token"));
        assert_ne!(token, key.token("phone:+254712345679").expect("token"));
        // Two blindings of one value look unrelated on the wire.
        let b2 = blind("phone:+254712345678", &mut rng).expect("blind");
        assert_ne!(b.message, b2.message);
    }

    #[test]
    fn another_key_gives_other_tokens() {
        let mut rng = rand_core::OsRng;
        let (k1, k2) = (
            OprfKey::generate(&mut rng).expect("k1"),
            OprfKey::generate(&mut rng).expect("k2"),
        );
        assert_ne!(k1.token("x:y"), k2.token("x:y"));
        assert_ne!(k1.fingerprint(), k2.fingerprint());
        let again = OprfKey::from_bytes(&k1.to_bytes()).expect("round trip");
        assert_eq!(again.token("x:y"), k1.token("x:y"));
        assert_eq!(again.fingerprint(), k1.fingerprint());
        assert!(OprfKey::from_bytes(&[0xff; 32]).is_err());
        assert!(k1.evaluate_blinded(&[1, 2, 3]).is_err());
    }
}
