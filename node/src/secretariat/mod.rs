//! The secretariat's offline, file-based operations on a federation dir:
//! the CA, admitting agencies (issuing their TLS certificates), groups,
//! revocation, and the signed manifest they all update.
//!
//! Layout of the federation dir:
//! `ca.key.pem` (0600), `ca.cert.pem`, `manifest.pb`, `issued/<id>.cert.pem`.

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message;
use wildnet_proto::v1 as pb;

use crate::layout::{CA_CERT, CA_KEY, ISSUED, MANIFEST};

mod admit;
use crate::membership::manifest::{self, CaKey, Trusted, cert_sha256};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SecretariatError {
    /// File trouble.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: String,
    },
    /// Refused, with the reason and the fix.
    #[error("{0}")]
    Refused(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SecretariatError + '_ {
    move |e| SecretariatError::Io {
        path: path.to_path_buf(),
        cause: e.to_string(),
    }
}

fn refused(m: impl Into<String>) -> SecretariatError {
    SecretariatError::Refused(m.into())
}

fn now_ms() -> i64 {
    crate::now_ms()
}

/// A loaded federation dir.
pub struct Secretariat {
    dir: PathBuf,
    ca_key: rcgen::KeyPair,
    ca: CaKey,
    trusted: Trusted,
}

impl std::fmt::Debug for Secretariat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secretariat")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn write_file(
    path: &Path,
    data: &[u8],
    mode: u32,
    create_new: bool,
) -> Result<(), SecretariatError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = fs::OpenOptions::new();
    o.write(true).mode(mode);
    if create_new {
        o.create_new(true);
    } else {
        o.create(true).truncate(true);
    }
    let mut f = o.open(path).map_err(io(path))?;
    f.write_all(data).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// The host of a `HOST:PORT` address, refusing anything else.
fn host_of(address: &str) -> Result<&str, SecretariatError> {
    address
        .rsplit_once(':')
        .filter(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        .map(|(h, _)| h)
        .ok_or_else(|| {
            refused(format!(
                "address {address:?} must be HOST:PORT, e.g. 10.1.0.5:7701"
            ))
        })
}

/// An admitted agency of a manifest body, for editing.
fn admitted<'a>(
    m: &'a mut pb::ManifestBody,
    agency: &str,
) -> Result<&'a mut pb::ManifestAgency, SecretariatError> {
    m.agencies
        .iter_mut()
        .find(|a| a.id == agency)
        .ok_or_else(|| {
            refused(format!(
                "{agency} is not admitted: see `wildnet federation show`"
            ))
        })
}

/// Reads the first certificate of a PEM file as DER.
pub fn read_cert_pem(path: &Path) -> Result<Vec<u8>, SecretariatError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(text.as_bytes())
        .map_err(|e| refused(format!("{} is not a PEM certificate: {e}", path.display())))?;
    Ok(pem.contents)
}

/// Reads and verifies a manifest file against a CA.
pub fn read_manifest(path: &Path, ca: &CaKey) -> Result<Trusted, SecretariatError> {
    let bytes = fs::read(path).map_err(io(path))?;
    let m = pb::Manifest::decode(bytes.as_slice())
        .map_err(|e| refused(format!("{} is not a manifest: {e}", path.display())))?;
    Trusted::verify(m, ca).map_err(|e| refused(format!("{}: {e}", path.display())))
}

fn offset(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// A fresh P-256 CA key and its self-signed certificate (20 years).
fn new_ca(name: &str) -> Result<(rcgen::KeyPair, rcgen::Certificate), SecretariatError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| refused(e.to_string()))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} federation CA"));
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = offset(now_ms() - 3_600_000);
    params.not_after = offset(now_ms() + 20 * 365 * 86_400_000);
    let cert = params
        .self_signed(&key)
        .map_err(|e| refused(e.to_string()))?;
    Ok((key, cert))
}

impl Secretariat {
    /// Creates a federation dir: CA key and certificate, manifest version 1.
    pub fn init(dir: &Path, name: &str) -> Result<Secretariat, SecretariatError> {
        if name.trim().is_empty() {
            return Err(refused("--name must not be empty"));
        }
        for f in [CA_KEY, CA_CERT, MANIFEST] {
            if dir.join(f).exists() {
                return Err(refused(format!(
                    "{} already exists: refusing to overwrite a federation CA",
                    dir.join(f).display()
                )));
            }
        }
        fs::create_dir_all(dir.join(ISSUED)).map_err(io(dir))?;
        let (key, cert) = new_ca(name)?;
        let ca = CaKey::from_cert_der(cert.der()).map_err(refused)?;
        let body = pb::ManifestBody {
            version: 1,
            federation: name.to_string(),
            issued_at: now_ms(),
            ..Default::default()
        };
        let m = manifest::sign(&body, &key.serialize_der()).map_err(refused)?;
        let trusted = Trusted::verify(m, &ca).map_err(|e| refused(e.to_string()))?;
        write_file(
            &dir.join(CA_KEY),
            key.serialize_pem().as_bytes(),
            0o600,
            true,
        )?;
        write_file(&dir.join(CA_CERT), cert.pem().as_bytes(), 0o644, true)?;
        write_file(
            &dir.join(MANIFEST),
            &trusted.manifest().encode_to_vec(),
            0o644,
            true,
        )?;
        Ok(Secretariat {
            dir: dir.to_path_buf(),
            ca_key: key,
            ca,
            trusted,
        })
    }

    /// Opens an existing federation dir.
    pub fn open(dir: &Path) -> Result<Secretariat, SecretariatError> {
        let key_path = dir.join(CA_KEY);
        let pem = fs::read_to_string(&key_path).map_err(|e| {
            refused(format!(
                "cannot read {} ({e}): is {} a federation dir made by `wildnet federation init`?",
                key_path.display(),
                dir.display()
            ))
        })?;
        let ca_key = rcgen::KeyPair::from_pem(&pem)
            .map_err(|e| refused(format!("{}: {e}", key_path.display())))?;
        let ca_der = read_cert_pem(&dir.join(CA_CERT))?;
        let ca = CaKey::from_cert_der(&ca_der).map_err(refused)?;
        let trusted = read_manifest(&dir.join(MANIFEST), &ca)?;
        Ok(Secretariat {
            dir: dir.to_path_buf(),
            ca_key,
            ca,
            trusted,
        })
    }

    /// The current manifest.
    pub fn manifest(&self) -> &Trusted {
        &self.trusted
    }

    /// The CA key.
    pub fn ca(&self) -> &CaKey {
        &self.ca
    }

    /// Signs `body` as the next version and writes it.
    fn publish(&mut self, mut body: pb::ManifestBody) -> Result<(), SecretariatError> {
        body.version = self.trusted.version() + 1;
        body.issued_at = now_ms();
        let m = manifest::sign(&body, &self.ca_key.serialize_der()).map_err(refused)?;
        let t = Trusted::verify(m, &self.ca).map_err(|e| refused(e.to_string()))?;
        let path = self.dir.join(MANIFEST);
        let tmp = self.dir.join("manifest.pb.tmp");
        write_file(&tmp, &t.manifest().encode_to_vec(), 0o644, false)?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        self.trusted = t;
        Ok(())
    }

    /// Defines (or replaces) a group; every member must be admitted.
    pub fn group_set(&mut self, name: &str, members: &[String]) -> Result<(), SecretariatError> {
        crate::record::validate::group_name("group", name).map_err(|e| refused(e.to_string()))?;
        if members.is_empty() {
            return Err(refused("a group needs at least one member"));
        }
        for a in members {
            if self.trusted.agency(a).is_none() {
                return Err(refused(format!(
                    "{a} is not admitted: admit it before adding it to a group"
                )));
            }
        }
        let mut m = self.trusted.body().clone();
        m.groups.retain(|g| g.name != name);
        m.groups.push(pb::ManifestGroup {
            name: name.to_string(),
            members: members.to_vec(),
        });
        m.groups.sort_by(|a, b| a.name.cmp(&b.name));
        self.publish(m)
    }

    /// Moves an agency's Federation service to another port (or to a host
    /// its certificate names; a new host needs `admit --rotate`).
    pub fn set_address(&mut self, agency: &str, address: &str) -> Result<(), SecretariatError> {
        let mut m = self.trusted.body().clone();
        let a = admitted(&mut m, agency)?;
        let host = host_of(address)?;
        if a.address.rsplit_once(':').map(|(h, _)| h) != Some(host) {
            return Err(refused(format!(
                "{agency}'s certificate names the host of {}; a new host needs a new certificate (admit --rotate)",
                a.address
            )));
        }
        a.address = address.to_string();
        self.publish(m)
    }

    /// Removes a group.
    pub fn group_rm(&mut self, name: &str) -> Result<(), SecretariatError> {
        let mut m = self.trusted.body().clone();
        let before = m.groups.len();
        m.groups.retain(|g| g.name != name);
        if m.groups.len() == before {
            return Err(refused(format!("there is no group {name}")));
        }
        self.publish(m)
    }

    /// Revokes an agency, or one of its keys (a certificate SHA-256 prefix
    /// or a signing-key fingerprint / hex prefix), from `from` (unix ms).
    pub fn revoke(
        &mut self,
        agency: &str,
        key: Option<&str>,
        from: i64,
    ) -> Result<String, SecretariatError> {
        let mut m = self.trusted.body().clone();
        let a = admitted(&mut m, agency)?;
        let what = match key {
            None => {
                a.revoked_at = from;
                format!("agency {agency}")
            }
            Some(k) => {
                let k = k.trim().to_lowercase();
                if k.len() < 8 {
                    return Err(refused(
                        "--key needs at least 8 hex characters of a fingerprint",
                    ));
                }
                let mut hit = Vec::new();
                for c in &mut a.certs {
                    if c.sha256.starts_with(&k) {
                        c.revoked_at = from;
                        hit.push(format!("TLS certificate {}", &c.sha256[..16]));
                    }
                }
                for s in &mut a.signing_keys {
                    let vk = ed25519_dalek::VerifyingKey::from_bytes(
                        s.public_key.as_slice().try_into().unwrap_or(&[0u8; 32]),
                    );
                    let fp = vk
                        .map(|v| crate::record::fingerprint(&v))
                        .unwrap_or_default();
                    if fp.starts_with(&k) || hex::encode(&s.public_key).starts_with(&k) {
                        s.revoked_at = from;
                        hit.push(format!("signing key {fp}"));
                    }
                }
                if hit.len() != 1 {
                    return Err(refused(format!(
                        "--key {k} matches {} keys of {agency}: give a longer prefix (see `wildnet federation show`)",
                        hit.len()
                    )));
                }
                hit.remove(0)
            }
        };
        self.publish(m)?;
        Ok(what)
    }
}

#[cfg(test)]
mod tests;
