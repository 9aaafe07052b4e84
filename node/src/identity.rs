//! An agency's identity files: the Ed25519 record-signing key, the ECDSA
//! P-256 TLS key (both PKCS#8 PEM, mode 0600), the admission request for
//! the federation secretariat, and a working `node.toml`.
//!
//! The admission request carries a CSR for the TLS key and the Ed25519
//! public key; its body is signed by both keys, which proves possession of
//! each to the secretariat.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer, SigningKey};
use prost::Message;
use wildnet_proto::v1 as pb;

use crate::layout::{
    ADMISSION_FILE, CONFIG_FILE, CSR_FILE, KEYS_DIR, SIGNING_KEY_FILE, TLS_KEY_FILE,
};
use crate::record::AgencyId;

/// What can go wrong with identity files.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Refusing to overwrite.
    #[error(
        "{0} already exists: refusing to overwrite an agency's keys (use a new --dir, or delete it if you really mean to start over)"
    )]
    Exists(PathBuf),
    /// A key file does not hold a usable key.
    #[error(
        "{path} is not a valid {what} PKCS#8 PEM key: {cause}. Restore it from the agency's backup; \
         if it is lost, `wildnet keys rotate` makes new keys for the secretariat to admit"
    )]
    BadKey {
        /// The file.
        path: PathBuf,
        /// Which key.
        what: &'static str,
        /// Parser message.
        cause: String,
    },
    /// A secret key file others may read.
    #[error(
        "{path} has mode {mode:o}: other users may read this secret key. Run `chmod 600 {path}`; \
         if someone else could have read it, rotate it (`wildnet keys rotate`)"
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Bad agency id or country.
    #[error("{0}")]
    BadInput(String),
    /// Certificate machinery failed.
    #[error("cannot build the certificate signing request: {0}")]
    Csr(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `init` created.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// The agency dir.
    pub dir: PathBuf,
    /// Files written, relative to `dir`.
    pub files: Vec<&'static str>,
    /// Hex Ed25519 public key.
    pub signing_public_key: String,
}

/// Creates an agency dir: both keys, the admission request, the CSR and
/// `node.toml`. Refuses if any of those files already exists.
pub fn init(
    dir: &Path,
    agency: &str,
    name: &str,
    country: &str,
) -> Result<InitReport, IdentityError> {
    let id: AgencyId = agency
        .parse()
        .map_err(|e: crate::record::IdError| IdentityError::BadInput(e.to_string()))?;
    if country != id.country() {
        return Err(IdentityError::BadInput(format!(
            "country {country:?} must match the agency id's country code {:?}",
            id.country()
        )));
    }
    if name.trim().is_empty() {
        return Err(IdentityError::BadInput("--name must not be empty".into()));
    }
    let files = [
        SIGNING_KEY_FILE,
        TLS_KEY_FILE,
        ADMISSION_FILE,
        CSR_FILE,
        CONFIG_FILE,
    ];
    for f in files {
        let p = dir.join(f);
        if p.exists() {
            return Err(IdentityError::Exists(p));
        }
    }
    let signing_public_key = generate_keys(dir, &id, name)?;
    write_new(
        &dir.join(CONFIG_FILE),
        crate::config::default_toml(&id, name).as_bytes(),
        0o644,
    )?;
    Ok(InitReport {
        dir: dir.to_path_buf(),
        files: files.to_vec(),
        signing_public_key,
    })
}

/// Writes fresh keys, the admission request and the CSR into `dir`
/// (refusing to overwrite); returns the hex Ed25519 public key.
fn generate_keys(dir: &Path, id: &AgencyId, name: &str) -> Result<String, IdentityError> {
    fs::create_dir_all(dir.join(KEYS_DIR)).map_err(io(dir))?;
    fs::set_permissions(dir.join(KEYS_DIR), fs::Permissions::from_mode(0o700))
        .map_err(io(&dir.join(KEYS_DIR)))?;
    let signing = SigningKey::generate(&mut rand_core::OsRng);
    let signing_pem = signing_key_pem(&signing)?;
    let tls = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| IdentityError::Csr(e.to_string()))?;
    let req = admission_request(id, name, &signing, &tls)?;
    let csr_pem = csr(id, name, &tls)?
        .pem()
        .map_err(|e| IdentityError::Csr(e.to_string()))?;
    write_new(&dir.join(SIGNING_KEY_FILE), signing_pem.as_bytes(), 0o600)?;
    write_new(
        &dir.join(TLS_KEY_FILE),
        tls.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_new(&dir.join(ADMISSION_FILE), &req.encode_to_vec(), 0o644)?;
    write_new(&dir.join(CSR_FILE), csr_pem.as_bytes(), 0o644)?;
    Ok(hex::encode(signing.verifying_key().as_bytes()))
}

/// The Ed25519 key as PKCS#8 v1 PEM (RFC 8410 `PrivateKeyInfo`, no public
/// key): the form OpenSSL 3.0 and Python's `cryptography` load. (v2 with
/// the public key, ed25519-dalek's default, is refused by both.) Reading
/// accepts either.
pub fn signing_key_pem(
    key: &SigningKey,
) -> Result<ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing<String>, IdentityError> {
    ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
    .map_err(|e| IdentityError::Csr(e.to_string()))
}

/// Key rotation, agency side: moves the current keys, admission request
/// and CSR to `keys/retired-<unix ms>/` and writes new ones. The
/// secretariat then admits the new request with `--rotate`; the agency
/// joins with the new certificate and restarts its node.
pub fn rotate(dir: &Path) -> Result<InitReport, IdentityError> {
    let settings = crate::config::Settings::load(&dir.join(CONFIG_FILE))
        .map_err(|e| IdentityError::BadInput(e.to_string()))?;
    let retired = dir.join(crate::layout::retired_keys_dir(crate::now_ms()));
    fs::create_dir_all(&retired).map_err(io(&retired))?;
    fs::set_permissions(&retired, fs::Permissions::from_mode(0o700)).map_err(io(&retired))?;
    for f in [SIGNING_KEY_FILE, TLS_KEY_FILE, ADMISSION_FILE, CSR_FILE] {
        let from = dir.join(f);
        if from.exists() {
            let name = Path::new(f).file_name().unwrap_or_default();
            fs::rename(&from, retired.join(name)).map_err(io(&from))?;
        }
    }
    let signing_public_key = generate_keys(dir, &settings.agency, &settings.name)?;
    Ok(InitReport {
        dir: dir.to_path_buf(),
        files: vec![SIGNING_KEY_FILE, TLS_KEY_FILE, ADMISSION_FILE, CSR_FILE],
        signing_public_key,
    })
}

/// The node's OPRF key (deconfliction) at `path`; made, mode 0600, when
/// there is none yet (a node's first start).
pub fn load_or_create_oprf_key(
    path: &Path,
) -> Result<crate::deconfliction::OprfKey, IdentityError> {
    use crate::deconfliction::OprfKey;
    let bad = |cause: String| IdentityError::BadKey {
        path: path.to_path_buf(),
        what: "OPRF",
        cause,
    };
    match fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|e| bad(e.to_string()))?;
            OprfKey::from_bytes(&bytes).map_err(bad)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).map_err(io(dir))?;
            }
            let key = OprfKey::generate(&mut rand_core::OsRng).map_err(bad)?;
            write_new(path, hex::encode(key.to_bytes()).as_bytes(), 0o600)?;
            tracing::info!(path = %path.display(), "made the deconfliction (OPRF) key");
            Ok(key)
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// Replaces the OPRF key with a new one (the old one moves to
/// `<path>.retired-<unix ms>`): peers' copies of this node's filter, and
/// tokens computed with the old key, stop matching at the next start.
pub fn rotate_oprf_key(path: &Path) -> Result<(), IdentityError> {
    if path.exists() {
        let retired = path.with_extension(format!("key.retired-{}", crate::now_ms()));
        fs::rename(path, &retired).map_err(io(path))?;
    }
    load_or_create_oprf_key(path).map(|_| ())
}

fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), IdentityError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                IdentityError::Exists(path.to_path_buf())
            } else {
                io(path)(e)
            }
        })?;
    f.write_all(data).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

fn csr(
    id: &AgencyId,
    name: &str,
    tls: &rcgen::KeyPair,
) -> Result<rcgen::CertificateSigningRequest, IdentityError> {
    let params = crate::membership::tls::agency_params(id.as_str(), name)
        .map_err(|e| IdentityError::Csr(e.to_string()))?;
    params
        .serialize_request(tls)
        .map_err(|e| IdentityError::Csr(e.to_string()))
}

/// Builds the admission request and signs its body with both keys.
pub fn admission_request(
    id: &AgencyId,
    name: &str,
    signing: &SigningKey,
    tls: &rcgen::KeyPair,
) -> Result<pb::AdmissionRequest, IdentityError> {
    let body = pb::AdmissionRequestBody {
        agency: id.to_string(),
        name: name.to_string(),
        country: id.country().to_string(),
        csr_der: csr(id, name, tls)?.der().to_vec(),
        signing_public_key: signing.verifying_key().to_bytes().to_vec(),
        created_at: crate::now_ms(),
        tls_public_key: tls.public_key_raw().to_vec(),
    }
    .encode_to_vec();
    let mut input = crate::membership::admission::CONTEXT.to_vec();
    input.extend_from_slice(&body);
    let rng = ring::rand::SystemRandom::new();
    let ecdsa = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &tls.serialize_der(),
        &rng,
    )
    .map_err(|e| IdentityError::Csr(e.to_string()))?;
    let tls_signature = ecdsa
        .sign(&rng, &input)
        .map_err(|e| IdentityError::Csr(e.to_string()))?;
    Ok(pb::AdmissionRequest {
        body,
        tls_signature: tls_signature.as_ref().to_vec(),
        signing_signature: signing.sign(&input).to_bytes().to_vec(),
    })
}

/// Loads the Ed25519 signing key, refusing a file others can read.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, IdentityError> {
    let meta = fs::metadata(path).map_err(io(path))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(IdentityError::Exposed {
            path: path.to_path_buf(),
            mode: meta.permissions().mode() & 0o777,
        });
    }
    let pem = fs::read_to_string(path).map_err(io(path))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| IdentityError::BadKey {
        path: path.to_path_buf(),
        what: "Ed25519",
        cause: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signing key is written as PKCS#8 v1 (version 0, no public key);
    /// a v2 key (with the public key, as earlier versions wrote) still loads.
    #[test]
    fn signing_keys_are_pkcs8_v1_and_v2_still_loads() {
        use ed25519_dalek::pkcs8::{KeypairBytes, spki::der::pem::LineEnding};
        let tmp = tempfile::tempdir().expect("tempdir");
        let key = SigningKey::from_bytes(&[7; 32]);
        let pem = signing_key_pem(&key).expect("pem");
        let der = pkcs8_der(&pem);
        // SEQUENCE, then INTEGER 0: PrivateKeyInfo v1.
        assert_eq!(&der[2..5], &[0x02, 0x01, 0x00], "{der:02x?}");
        let v2 = KeypairBytes::from(&key)
            .to_pkcs8_pem(LineEnding::LF)
            .expect("v2");
        assert_eq!(&pkcs8_der(&v2)[2..5], &[0x02, 0x01, 0x01], "v2 fixture");
        for (name, text) in [("v1.pem", pem.as_str()), ("v2.pem", v2.as_str())] {
            let path = tmp.path().join(name);
            fs::write(&path, text).expect("write");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
            let loaded = load_signing_key(&path).expect("load");
            assert_eq!(loaded.to_bytes(), key.to_bytes(), "{name}");
        }
    }

    fn pkcs8_der(pem: &str) -> Vec<u8> {
        let (_, doc) = ed25519_dalek::pkcs8::SecretDocument::from_pem(pem).expect("pem");
        doc.as_bytes().to_vec()
    }

    /// init writes both keys 0600, a verifiable admission request and a
    /// config; a second init in the same dir refuses and changes nothing.
    #[test]
    fn init_and_refuse_overwrite() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("ke");
        let report = init(&dir, "KE-KWS", "Kenya Wildlife Service", "KE").expect("init");
        for f in [SIGNING_KEY_FILE, TLS_KEY_FILE] {
            let mode = fs::metadata(dir.join(f)).expect("key").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
        let key = load_signing_key(&dir.join(SIGNING_KEY_FILE)).expect("loads");
        assert_eq!(
            hex::encode(key.verifying_key().as_bytes()),
            report.signing_public_key
        );
        let tls_pem = fs::read_to_string(dir.join(TLS_KEY_FILE)).expect("tls key");
        assert!(tls_pem.contains("BEGIN PRIVATE KEY"), "PKCS#8 PEM expected");
        rcgen::KeyPair::from_pem(&tls_pem).expect("valid P-256 key");

        let req = pb::AdmissionRequest::decode(
            fs::read(dir.join(ADMISSION_FILE)).expect("req").as_slice(),
        )
        .expect("decodes");
        let body = crate::membership::admission::verify(&req).expect("verifies");
        assert_eq!(body.agency, "KE-KWS");
        assert_eq!(body.signing_public_key, key.verifying_key().to_bytes());

        let before = fs::read(dir.join(SIGNING_KEY_FILE)).expect("key");
        let e = init(&dir, "KE-KWS", "Kenya Wildlife Service", "KE").expect_err("overwrote");
        assert!(matches!(e, IdentityError::Exists(_)), "{e}");
        assert_eq!(fs::read(dir.join(SIGNING_KEY_FILE)).expect("key"), before);
    }

    /// Tampering with the request body or either signature is detected.
    #[test]
    fn admission_request_tamper() {
        let id: AgencyId = "ZA-DFFE".parse().expect("id");
        let signing = SigningKey::from_bytes(&[7; 32]);
        let tls = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let req = admission_request(&id, "DFFE", &signing, &tls).expect("request");
        crate::membership::admission::verify(&req).expect("valid");
        let mut t = req.clone();
        let last = t.body.len() - 1;
        t.body[last] ^= 1;
        assert!(crate::membership::admission::verify(&t).is_err());
        let mut t = req.clone();
        t.signing_signature[0] ^= 1;
        assert!(crate::membership::admission::verify(&t).is_err());
        let mut t = req;
        t.tls_signature[10] ^= 1;
        assert!(crate::membership::admission::verify(&t).is_err());
    }

    /// A weak (small-order) signing key is refused at admission, whatever
    /// its proof of possession.
    #[test]
    fn a_weak_signing_key_is_refused_at_admission() {
        let id: AgencyId = "ZA-DFFE".parse().expect("id");
        let signing = SigningKey::from_bytes(&[7; 32]);
        let tls = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut req = admission_request(&id, "DFFE", &signing, &tls).expect("request");
        let mut body = pb::AdmissionRequestBody::decode(req.body.as_slice()).expect("body");
        let mut identity = vec![0u8; 32];
        identity[0] = 1;
        body.signing_public_key = identity;
        req.body = body.encode_to_vec();
        let e = crate::membership::admission::verify(&req).expect_err("weak key admitted");
        assert!(e.to_string().contains("weak"), "{e}");
    }

    /// Bad agency ids and mismatched countries are refused before any file is written.
    #[test]
    fn init_input_checks() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert!(init(tmp.path(), "kenya", "K", "KE").is_err());
        assert!(init(tmp.path(), "KE-KWS", "K", "ZA").is_err());
        assert!(!tmp.path().join(SIGNING_KEY_FILE).exists());
    }
}
