//! The tests' federations — built and run by `wildnet-testbed`: every node
//! runs `server::run_with` in this test process with a real sled store in a
//! temp dir and a Federation listener bound on 127.0.0.1:0 before the
//! manifest is issued — and the tools for crafting bad certificates.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use wildnet_proto::v1 as pb;

pub use wildnet_testbed::{Federation, Node};

/// A federation of in-process nodes of `agencies` with `groups`: a full
/// mesh, or only `links` (each pair dials, and pulls from, the other).
/// Returns once every node is up (not yet necessarily linked).
pub async fn federation(
    agencies: &[&str],
    groups: &[(&str, &[&str])],
    links: Option<&[(&str, &str)]>,
) -> Federation {
    let mut spec = wildnet_testbed::FedSpec::new(agencies).groups(groups);
    if let Some(pairs) = links {
        spec = spec.pairs(pairs);
    }
    federation_of(spec).await
}

/// The federation `spec` describes, in process.
pub async fn federation_of(spec: wildnet_testbed::FedSpec) -> Federation {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WILDNET_TEST_LOG")
                .unwrap_or_else(|_| "off".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    Federation::start(&spec, wildnet_testbed::Kind::InProcess)
        .await
        .expect("start the federation")
}

/// Issues a certificate with the federation's CA key for `agency`, with
/// chosen validity and key: the tool for crafting bad certificates.
pub fn issue_cert(
    fed_dir: &Path,
    agency: &str,
    key: &rcgen::KeyPair,
    not_before_ms: i64,
    not_after_ms: i64,
) -> Vec<u8> {
    let ca_pem = std::fs::read_to_string(fed_dir.join("ca.cert.pem")).expect("ca");
    let ca_key = rcgen::KeyPair::from_pem(
        &std::fs::read_to_string(fed_dir.join("ca.key.pem")).expect("ca key"),
    )
    .expect("ca key");
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, &ca_key).expect("issuer");
    self_or_issued(agency, key, not_before_ms, not_after_ms, Some(&issuer))
}

/// A certificate for `agency` from a brand-new, foreign CA.
pub fn foreign_cert(agency: &str, key: &rcgen::KeyPair) -> Vec<u8> {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = rcgen::CertificateParams::default();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rogue CA");
    let issuer = rcgen::Issuer::new(params, ca_key);
    let now = chrono::Utc::now().timestamp_millis();
    self_or_issued(
        agency,
        key,
        now - 3_600_000,
        now + 86_400_000,
        Some(&issuer),
    )
}

fn offset(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).expect("time")
}

fn self_or_issued(
    agency: &str,
    key: &rcgen::KeyPair,
    nb: i64,
    na: i64,
    issuer: Option<&rcgen::Issuer<'_, impl rcgen::SigningKey>>,
) -> Vec<u8> {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name.push(rcgen::DnType::CommonName, agency);
    p.subject_alt_names = vec![
        rcgen::SanType::URI(
            format!("{}{agency}", wildnet_node::membership::tls::AGENCY_URI)
                .try_into()
                .expect("uri"),
        ),
        rcgen::SanType::IpAddress("127.0.0.1".parse().expect("ip")),
    ];
    p.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.not_before = offset(nb);
    p.not_after = offset(na);
    match issuer {
        Some(i) => p.signed_by(key, i).expect("sign").der().to_vec(),
        None => p.self_signed(key).expect("self-sign").der().to_vec(),
    }
}

/// Calls Hello on `addr` presenting `cert`/`key` (or no certificate) and
/// trusting the federation CA; returns the call's outcome.
pub async fn hello_with(
    fed_dir: &Path,
    addr: SocketAddr,
    client_cert: Option<(Vec<u8>, &rcgen::KeyPair)>,
) -> Result<pb::HelloResponse, String> {
    let channel = mtls_channel(fed_dir, addr, client_cert).await?;
    let mut c = wildnet_proto::v1::federation_client::FederationClient::new(channel);
    c.hello(pb::HelloRequest {
        manifest_version: 1,
    })
    .await
    .map(|r| r.into_inner())
    .map_err(|e| format!("{}: {}", e.code(), e.message()))
}

/// A channel to a node's Federation port over TLS 1.3, trusting the
/// federation's CA, with `client_cert` as the client's certificate.
pub async fn mtls_channel(
    fed_dir: &Path,
    addr: SocketAddr,
    client_cert: Option<(Vec<u8>, &rcgen::KeyPair)>,
) -> Result<tonic::transport::Channel, String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let ca_der =
        wildnet_node::secretariat::read_cert_pem(&fed_dir.join("ca.cert.pem")).expect("ca");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der)).expect("root");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots);
    let mut cfg = match client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(cert)],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("client cert"),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let connector = connector.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
                let tls = connector.connect(name, tcp).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    Ok(channel)
}

/// Writes a DER certificate as PEM (for stock tools such as grpcio).
pub fn write_cert_pem(path: &Path, der: &[u8]) {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for c in der.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            b64.push(if i <= c.len() {
                T[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("ascii"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    std::fs::write(path, pem).expect("write pem");
}

/// An agency dir's TLS key.
pub fn tls_key(dir: &Path) -> rcgen::KeyPair {
    rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.join("keys/tls.key.pem")).expect("key"))
        .expect("key")
}

/// An agency dir's TLS certificate (DER), as the secretariat issued it.
pub fn tls_cert(dir: &Path) -> Vec<u8> {
    wildnet_node::secretariat::read_cert_pem(&dir.join("federation/tls.cert.pem")).expect("cert")
}

/// Waits for a refusal audited on `node` after entry `before` whose
/// reason contains `reason` (refusals are audited just after the
/// handshake fails, so an earlier case's may land late: match on reason).
pub async fn refusal_with(fed: &Federation, node: &str, before: usize, reason: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let entries = fed.node(node).audit().await.expect("audit");
        let refusals: Vec<&str> = entries
            .iter()
            .skip(before)
            .filter(|e| e.action == "tls-refused" || e.action == "refuse")
            .map(|e| e.detail.as_str())
            .collect();
        if let Some(d) = refusals
            .iter()
            .find(|d| d.to_lowercase().contains(&reason.to_lowercase()))
        {
            return d.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no refusal with reason {reason:?} audited on {node}; refusals seen: {refusals:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
