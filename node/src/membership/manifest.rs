//! The signed manifest: verification against the federation CA, the
//! version rule, and the questions the rest of the node asks of it (is this
//! certificate an agency's current one? may this key sign for that
//! agency at that time? who is in that group?). Pure: no I/O.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use prost::Message;
use sha2::{Digest, Sha256};
use wildnet_proto::v1 as pb;

use crate::record::{AgencyId, KeyBinding, RecordError, fingerprint};

/// The context prefix the CA signature covers.
pub const MANIFEST_CONTEXT: &[u8] = b"wildnet-manifest-v1\0";

/// Why a manifest is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// The CA signature does not verify.
    #[error(
        "manifest signature does not verify against the federation CA: it was altered or signed by another key"
    )]
    BadSignature,
    /// The body is not a ManifestBody.
    #[error("manifest body does not decode: {0}")]
    Malformed(String),
    /// A structural rule is broken.
    #[error("manifest is invalid: {0}")]
    Invalid(String),
    /// Not newer than what the node has.
    #[error("manifest version {offered} is not newer than the installed version {current}")]
    NotNewer {
        /// Offered version.
        offered: u64,
        /// Installed version.
        current: u64,
    },
    /// Same version, other content: a forgery or a secretariat mistake.
    #[error(
        "manifest version {0} differs from the installed manifest of the same version: refused"
    )]
    Conflict(u64),
}

/// The federation CA's public key, from its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaKey {
    /// Uncompressed SEC1 P-256 point.
    pub point: Vec<u8>,
    /// The CA certificate, DER.
    pub cert_der: Vec<u8>,
}

impl CaKey {
    /// Reads the public key of a CA certificate (DER).
    pub fn from_cert_der(der: &[u8]) -> Result<CaKey, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        Ok(CaKey {
            point: cert.public_key().subject_public_key.data.to_vec(),
            cert_der: der.to_vec(),
        })
    }

    /// Verifies an ECDSA P-256 signature by the CA over `context || body`.
    pub fn verify(&self, context: &[u8], body: &[u8], sig: &[u8]) -> bool {
        let mut input = context.to_vec();
        input.extend_from_slice(body);
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            &self.point,
        )
        .verify(&input, sig)
        .is_ok()
    }
}

/// Lowercase hex SHA-256 of a certificate.
pub fn cert_sha256(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// A manifest that verified against the CA, with lookups.
#[derive(Debug, Clone, PartialEq)]
pub struct Trusted {
    manifest: pb::Manifest,
    body: pb::ManifestBody,
    by_id: HashMap<String, usize>,
}

impl Trusted {
    /// Verifies the CA signature over the verbatim body bytes, then the
    /// structure.
    pub fn verify(manifest: pb::Manifest, ca: &CaKey) -> Result<Trusted, ManifestError> {
        if !ca.verify(MANIFEST_CONTEXT, &manifest.body, &manifest.signature) {
            return Err(ManifestError::BadSignature);
        }
        // SAFETY (trust): the CA signed these exact bytes.
        let body = pb::ManifestBody::decode(manifest.body.as_slice())
            .map_err(|e| ManifestError::Malformed(e.to_string()))?;
        let mut by_id = HashMap::new();
        for (i, a) in body.agencies.iter().enumerate() {
            a.id.parse::<AgencyId>()
                .map_err(|e| ManifestError::Invalid(e.to_string()))?;
            if by_id.insert(a.id.clone(), i).is_some() {
                return Err(ManifestError::Invalid(format!(
                    "agency {} listed twice",
                    a.id
                )));
            }
            for c in &a.certs {
                if cert_sha256(&c.der) != c.sha256 {
                    return Err(ManifestError::Invalid(format!(
                        "certificate digest mismatch for {}",
                        a.id
                    )));
                }
            }
        }
        for g in &body.groups {
            crate::record::validate::group_name("group", &g.name)
                .map_err(|e| ManifestError::Invalid(e.to_string()))?;
        }
        Ok(Trusted {
            manifest,
            body,
            by_id,
        })
    }

    /// Wraps a manifest that was verified elsewhere (by the node a client
    /// asked), for display only: nothing here re-checks the signature.
    pub fn for_display(manifest: pb::Manifest, body: pb::ManifestBody) -> Trusted {
        let by_id = body
            .agencies
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        Trusted {
            manifest,
            body,
            by_id,
        }
    }

    /// Whether `offered` may replace `current` (None: nothing installed).
    pub fn check_newer(
        current: Option<&Trusted>,
        offered: &Trusted,
    ) -> Result<bool, ManifestError> {
        let Some(cur) = current else { return Ok(true) };
        let (o, c) = (offered.version(), cur.version());
        if o > c {
            Ok(true)
        } else if o == c && offered.manifest == cur.manifest {
            Ok(false)
        } else if o == c {
            Err(ManifestError::Conflict(o))
        } else {
            Err(ManifestError::NotNewer {
                offered: o,
                current: c,
            })
        }
    }

    /// The signed manifest as it travels.
    pub fn manifest(&self) -> &pb::Manifest {
        &self.manifest
    }

    /// The decoded body.
    pub fn body(&self) -> &pb::ManifestBody {
        &self.body
    }

    /// The version.
    pub fn version(&self) -> u64 {
        self.body.version
    }

    /// An agency's entry.
    pub fn agency(&self, id: &str) -> Option<&pb::ManifestAgency> {
        self.by_id.get(id).map(|&i| &self.body.agencies[i])
    }

    /// Members of a group; an unknown group has none (fail closed).
    pub fn group(&self, name: &str) -> &[String] {
        self.body
            .groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.members.as_slice())
            .unwrap_or(&[])
    }

    /// Whether a TLS certificate is the current one of `agency` at `now`:
    /// the agency is listed and not revoked, and the certificate is one the
    /// manifest lists for it, not revoked.
    pub fn check_cert(&self, agency: &str, der: &[u8], now_ms: i64) -> Result<(), String> {
        let a = self.agency(agency).ok_or_else(|| {
            format!(
                "agency {agency} is not in manifest version {}",
                self.version()
            )
        })?;
        if a.revoked_at != 0 && a.revoked_at <= now_ms {
            return Err(format!(
                "agency {agency} is revoked (manifest version {})",
                self.version()
            ));
        }
        let digest = cert_sha256(der);
        let c = a.certs.iter().find(|c| c.sha256 == digest).ok_or_else(|| {
            format!(
                "certificate {} is not the one manifest version {} lists for {agency}",
                &digest[..16],
                self.version()
            )
        })?;
        if c.revoked_at != 0 && c.revoked_at <= now_ms {
            return Err(format!(
                "certificate {} of {agency} is revoked (manifest version {})",
                &digest[..16],
                self.version()
            ));
        }
        Ok(())
    }
}

impl KeyBinding for Trusted {
    fn check(&self, author: &str, key: &VerifyingKey, at: i64) -> Result<(), RecordError> {
        let unbound = || RecordError::UnboundKey {
            author: author.to_string(),
            key: fingerprint(key),
        };
        let a = self.agency(author).ok_or_else(unbound)?;
        let k = a
            .signing_keys
            .iter()
            .find(|k| k.public_key.as_slice() == key.as_bytes())
            .ok_or_else(unbound)?;
        for revoked_at in [k.revoked_at, a.revoked_at] {
            if revoked_at != 0 && revoked_at <= at {
                return Err(RecordError::RevokedKey {
                    author: author.to_string(),
                    key: fingerprint(key),
                    revoked_at,
                });
            }
        }
        Ok(())
    }
}

/// Signs a manifest body with the CA key (PKCS#8 DER of a P-256 key).
pub fn sign(body: &pb::ManifestBody, ca_key_pkcs8: &[u8]) -> Result<pb::Manifest, String> {
    let bytes = body.encode_to_vec();
    let mut input = MANIFEST_CONTEXT.to_vec();
    input.extend_from_slice(&bytes);
    let rng = ring::rand::SystemRandom::new();
    let key = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        ca_key_pkcs8,
        &rng,
    )
    .map_err(|e| format!("the CA key is not a P-256 PKCS#8 key: {e}"))?;
    let sig = key
        .sign(&rng, &input)
        .map_err(|e| format!("signing failed: {e}"))?;
    Ok(pb::Manifest {
        body: bytes,
        signature: sig.as_ref().to_vec(),
    })
}
