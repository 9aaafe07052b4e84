//! The agency side of admission: install what the secretariat returned
//! (CA certificate, the agency's TLS certificate, the manifest) into the
//! agency dir and add a `[federation]` section to its `node.toml`.

use std::fs;
use std::path::Path;

use crate::membership::manifest::CaKey;
use crate::secretariat::{read_cert_pem, read_manifest};

/// Installs the federation files into `dir` after checking that they fit
/// together: the certificate names this agency and carries this agency's
/// TLS key, the manifest verifies against the CA and lists the
/// certificate. Returns the listen address written to node.toml.
pub fn join(
    dir: &Path,
    cert: &Path,
    ca: &Path,
    manifest: &Path,
    listen: Option<&str>,
) -> Result<String, String> {
    let cfg_path = dir.join(crate::layout::CONFIG_FILE);
    let settings = crate::config::Settings::load(&cfg_path).map_err(|e| e.to_string())?;
    let agency = settings.agency.to_string();
    let ca_der = read_cert_pem(ca).map_err(|e| e.to_string())?;
    let ca_key = CaKey::from_cert_der(&ca_der)?;
    let trusted = read_manifest(manifest, &ca_key).map_err(|e| e.to_string())?;
    let cert_der = read_cert_pem(cert).map_err(|e| e.to_string())?;
    let named = crate::membership::tls::agency_of(&cert_der)?;
    if named != agency {
        return Err(format!(
            "{} is the certificate of {named}, not of {agency}",
            cert.display()
        ));
    }
    check_key(cert, &cert_der, &settings.tls_key)?;
    trusted
        .check_cert(&agency, &cert_der, crate::now_ms())
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    let entry = trusted
        .agency(&agency)
        .ok_or_else(|| format!("{agency} is not in the manifest"))?;
    let listen = match listen {
        Some(l) => l.to_string(),
        None => entry.address.clone(),
    };
    listen
        .parse::<std::net::SocketAddr>()
        .map_err(|e| format!("listen address {listen:?} must be IP:PORT ({e}); pass --listen"))?;

    install(dir, ca, cert, manifest)?;
    let mut cfg = crate::config::NodeToml::open(&cfg_path).map_err(|e| e.to_string())?;
    if !cfg.is_federated() {
        cfg.add_federation(&listen).map_err(|e| e.to_string())?;
        cfg.save().map_err(|e| e.to_string())?;
    }
    Ok(listen)
}

/// The certificate must carry this agency's TLS key.
fn check_key(cert: &Path, cert_der: &[u8], tls_key: &Path) -> Result<(), String> {
    let key_pem = fs::read_to_string(tls_key).map_err(|e| format!("{}: {e}", tls_key.display()))?;
    let key =
        rcgen::KeyPair::from_pem(&key_pem).map_err(|e| format!("{}: {e}", tls_key.display()))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert_der).map_err(|e| e.to_string())?;
    if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(format!(
            "{} was not issued for this agency's TLS key {}: was it made from this dir's admission request?",
            cert.display(),
            tls_key.display()
        ));
    }
    Ok(())
}

/// Copies the three files into the agency dir (unless they are there).
fn install(dir: &Path, ca: &Path, cert: &Path, manifest: &Path) -> Result<(), String> {
    let fed = dir.join(crate::layout::JOINED_DIR);
    fs::create_dir_all(&fed).map_err(|e| format!("{}: {e}", fed.display()))?;
    for (from, to) in [
        (ca, crate::layout::JOINED_CA_FILE),
        (cert, crate::layout::JOINED_CERT_FILE),
        (manifest, crate::layout::JOINED_MANIFEST_FILE),
    ] {
        let target = dir.join(to);
        if from.canonicalize().ok() != target.canonicalize().ok() {
            fs::copy(from, &target).map_err(|e| {
                format!(
                    "cannot copy {} to {}: {e}",
                    from.display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}
