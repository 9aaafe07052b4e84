//! Every file name of an agency dir and of a federation (secretariat) dir,
//! relative to that dir: the one place that says where things live.
//!
//! An agency dir:
//! ```text
//! node.toml                  CONFIG_FILE
//! keys/signing.key.pem       SIGNING_KEY_FILE (Ed25519, PKCS#8 v1, 0600)
//! keys/tls.key.pem           TLS_KEY_FILE (ECDSA P-256, PKCS#8, 0600)
//! keys/oprf.key              OPRF_KEY_FILE (ristretto255 scalar, hex, 0600)
//! keys/retired-<ms>/         retired_keys_dir: the keys a rotation replaced
//! admission-request.pb       ADMISSION_FILE, for the secretariat
//! tls.csr.pem                CSR_FILE, a readable copy of the request's CSR
//! federation/ca.cert.pem     JOINED_CA_FILE      (written by `federation join`)
//! federation/tls.cert.pem    JOINED_CERT_FILE
//! federation/manifest.pb     JOINED_MANIFEST_FILE
//! data/                      DATA_DIR (0700): db/ (sled), wildnet.sock
//! ```
//! A federation dir: `ca.key.pem`, `ca.cert.pem`, `manifest.pb`,
//! `issued/<agency>.cert.pem`.

/// Node configuration, in an agency dir.
pub const CONFIG_FILE: &str = "node.toml";
/// The keys folder, in an agency dir (0700).
pub const KEYS_DIR: &str = "keys";
/// Ed25519 record-signing key, in an agency dir.
pub const SIGNING_KEY_FILE: &str = "keys/signing.key.pem";
/// ECDSA P-256 TLS key, in an agency dir.
pub const TLS_KEY_FILE: &str = "keys/tls.key.pem";
/// The OPRF key that answers deconfliction questions (32 bytes, hex, 0600;
/// made at the node's first start).
pub const OPRF_KEY_FILE: &str = "keys/oprf.key";
/// Admission request, in an agency dir.
pub const ADMISSION_FILE: &str = "admission-request.pb";
/// Readable copy of the CSR, in an agency dir.
pub const CSR_FILE: &str = "tls.csr.pem";
/// What `federation join` installs, in an agency dir.
pub const JOINED_DIR: &str = "federation";
/// The federation CA certificate, once joined, in an agency dir.
pub const JOINED_CA_FILE: &str = "federation/ca.cert.pem";
/// This agency's TLS certificate, once joined, in an agency dir.
pub const JOINED_CERT_FILE: &str = "federation/tls.cert.pem";
/// The manifest the node was installed with, in an agency dir.
pub const JOINED_MANIFEST_FILE: &str = "federation/manifest.pb";
/// The node's data dir, in an agency dir (`data_dir` in node.toml).
pub const DATA_DIR: &str = "data";
/// The sled database, in the data dir.
pub const DB_DIR: &str = "db";
/// The Agency API socket, in the data dir.
pub const SOCKET_NAME: &str = "wildnet.sock";

/// Where a key rotation at `at_ms` moves the keys it replaces.
pub fn retired_keys_dir(at_ms: i64) -> String {
    format!("{KEYS_DIR}/retired-{at_ms}")
}

/// CA key, in a federation dir.
pub const CA_KEY: &str = "ca.key.pem";
/// CA certificate, in a federation dir.
pub const CA_CERT: &str = "ca.cert.pem";
/// The current manifest, in a federation dir.
pub const MANIFEST: &str = "manifest.pb";
/// Issued certificates, in a federation dir.
pub const ISSUED: &str = "issued";

/// The certificate issued to `agency`, in a federation dir.
pub fn issued_cert(agency: &str) -> String {
    format!("{ISSUED}/{}.cert.pem", agency.to_lowercase())
}
