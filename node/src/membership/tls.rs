//! Mutual TLS between agency nodes (rustls, TLS 1.3 only, ring).
//!
//! Both directions verify the peer's certificate twice: first as X.509
//! (chains to the federation CA, within its validity, right key usage; the
//! server's certificate must also name the address dialled), then against
//! the current manifest (the certificate's `urn:wildnet:agency:<ID>` names
//! an agency the manifest lists, this exact certificate is the one listed
//! for it, and neither is revoked). A client dialling a peer also requires
//! the certificate to name the agency it meant to reach.

use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, Error, RootCertStore, ServerConfig,
    SignatureScheme,
};

use super::manifest::Trusted;

/// The URI SAN prefix that names an agency in its certificate.
pub const AGENCY_URI: &str = "urn:wildnet:agency:";

/// The manifest currently in force, shared with the TLS verifiers.
pub type ManifestCell = Arc<RwLock<Arc<Trusted>>>;

/// The certificate parameters that name `agency` (of organisation
/// `org`): CN = the agency id, O = its name, and the
/// `urn:wildnet:agency:<ID>` URI that [`agency_of`] reads back. The CSR of
/// `wildnet init` and the certificate the secretariat issues both start
/// from these.
pub fn agency_params(agency: &str, org: &str) -> Result<rcgen::CertificateParams, rcgen::Error> {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, agency);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, org);
    let uri = format!("{AGENCY_URI}{agency}").try_into()?;
    params.subject_alt_names = vec![rcgen::SanType::URI(uri)];
    Ok(params)
}

/// The agency a certificate names in its URI SAN (exactly one).
pub fn agency_of(der: &[u8]) -> Result<String, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("certificate does not parse: {e}"))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| format!("bad subjectAltName: {e}"))?
        .ok_or("certificate names no agency (no subjectAltName)")?;
    let ids: Vec<&str> = san
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::URI(u) => u.strip_prefix(AGENCY_URI),
            _ => None,
        })
        .collect();
    match ids.as_slice() {
        [one] => Ok((*one).to_string()),
        [] => Err(format!(
            "certificate names no agency ({AGENCY_URI}<ID> URI)"
        )),
        _ => Err("certificate names more than one agency".into()),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca_der: &[u8]) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(|e| format!("the federation CA certificate is unusable: {e}"))?;
    Ok(Arc::new(roots))
}

fn unix_ms(now: UnixTime) -> i64 {
    (now.as_secs() as i64).saturating_mul(1000)
}

fn refuse(msg: String) -> Error {
    Error::General(msg)
}

/// Checks a peer certificate against the manifest in force.
fn manifest_check(
    manifest: &ManifestCell,
    der: &[u8],
    now: UnixTime,
    expected: Option<&str>,
) -> Result<String, Error> {
    let agency = agency_of(der).map_err(refuse)?;
    if let Some(want) = expected
        && agency != want
    {
        return Err(refuse(format!(
            "certificate names {agency}, but {want} was dialled"
        )));
    }
    let m = manifest
        .read()
        .map_err(|_| refuse("manifest lock poisoned".into()))?
        .clone();
    m.check_cert(&agency, der, unix_ms(now)).map_err(refuse)?;
    Ok(agency)
}

/// Server side: X.509 verification, then the manifest.
#[derive(Debug)]
struct PeerClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    manifest: ManifestCell,
}

impl ClientCertVerifier for PeerClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.inner
            .verify_client_cert(end_entity, intermediates, now)?;
        manifest_check(&self.manifest, end_entity, now, None)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }
}

/// Client side: X.509 verification (including the dialled name), then the
/// manifest, then the expected agency.
#[derive(Debug)]
struct PeerServerVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    manifest: ManifestCell,
    expected: String,
}

impl ServerCertVerifier for PeerServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        manifest_check(&self.manifest, end_entity, now, Some(&self.expected))?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A short class of a refused TLS handshake, for counting (`/metrics`):
/// what rustls said, or `manifest` for this node's own checks against the
/// manifest in force.
pub fn refusal_reason(e: &std::io::Error) -> &'static str {
    use rustls::CertificateError as C;
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) else {
        return "connection";
    };
    match tls {
        Error::NoCertificatesPresented => "no-certificate",
        Error::InvalidCertificate(C::UnknownIssuer) => "unknown-issuer",
        Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => "expired",
        Error::InvalidCertificate(C::Revoked) => "revoked",
        Error::InvalidCertificate(_) => "invalid-certificate",
        Error::General(_) => "manifest",
        Error::PeerIncompatible(_) | Error::InappropriateHandshakeMessage { .. } => "incompatible",
        Error::AlertReceived(_) => "alert",
        Error::InvalidMessage(_) | Error::PeerMisbehaved(_) => "not-tls",
        _ => "other",
    }
}

/// This node's TLS certificate and key.
#[derive(Debug)]
pub struct TlsIdentity {
    /// The certificate issued by the federation CA.
    pub cert: CertificateDer<'static>,
    /// Its P-256 key, PKCS#8.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        TlsIdentity {
            cert: self.cert.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// The server configuration of the Federation listener.
pub fn server_config(
    id: &TlsIdentity,
    ca_der: &[u8],
    manifest: ManifestCell,
) -> Result<Arc<ServerConfig>, String> {
    let inner =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(ca_der)?, provider())
            .build()
            .map_err(|e| format!("cannot build the client verifier: {e}"))?;
    let verifier = Arc::new(PeerClientVerifier { inner, manifest });
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![id.cert.clone()], id.key.clone_key())
        .map_err(|e| {
            format!("the node's TLS certificate and key do not form a usable pair: {e}")
        })?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// The client configuration for dialling `expected`.
pub fn client_config(
    id: &TlsIdentity,
    ca_der: &[u8],
    manifest: ManifestCell,
    expected: &str,
) -> Result<Arc<ClientConfig>, String> {
    let inner =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots(ca_der)?, provider())
            .build()
            .map_err(|e| format!("cannot build the server verifier: {e}"))?;
    let verifier = Arc::new(PeerServerVerifier {
        inner,
        manifest,
        expected: expected.to_string(),
    });
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![id.cert.clone()], id.key.clone_key())
        .map_err(|e| {
            format!("the node's TLS certificate and key do not form a usable pair: {e}")
        })?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}
