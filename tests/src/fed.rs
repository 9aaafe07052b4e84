//! In-process federations: every node runs `server::run_with` in this test
//! process with real sled stores in temp dirs and a Federation listener the
//! test bound on 127.0.0.1:0 — so the manifest can carry real addresses
//! before any node starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use wildnet_node::secretariat::Secretariat;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

/// One in-process node.
pub struct FedNode {
    /// Agency id.
    pub agency: String,
    /// Agency dir.
    pub dir: PathBuf,
    /// Federation address.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl FedNode {
    /// The Agency client over the node's socket.
    pub async fn client(&self) -> AgencyClient<Channel> {
        wildnet_node::client::Target::Unix(self.dir.join("data").join("wildnet.sock"))
            .connect()
            .await
            .expect("connect to node")
    }

    /// Peer states as the node reports them.
    pub async fn peers(&self) -> pb::PeersResponse {
        self.client()
            .await
            .peers(pb::PeersRequest {})
            .await
            .expect("peers")
            .into_inner()
    }

    /// Audit entries of the node.
    pub async fn audit(&self) -> Vec<pb::AuditEntry> {
        self.client()
            .await
            .audit_list(pb::AuditListRequest {
                since: 1,
                limit: 10_000,
            })
            .await
            .expect("audit")
            .into_inner()
            .entries
    }

    /// Stops the node gracefully.
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("node task").expect("node ran cleanly");
        }
    }
}

impl Drop for FedNode {
    /// A test that fails half-way still stops its nodes.
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A federation of in-process nodes.
pub struct TestFederation {
    /// Keeps everything on disk alive.
    pub tmp: TempDir,
    /// The secretariat's dir.
    pub fed_dir: PathBuf,
    /// The nodes, in the order given.
    pub nodes: Vec<FedNode>,
}

/// Starts a node from its agency dir with a pre-bound Federation listener.
pub async fn start_node(agency: &str, dir: &Path, listener: tokio::net::TcpListener) -> FedNode {
    let addr = listener.local_addr().expect("addr");
    let settings = wildnet_node::config::Settings::load(&dir.join("node.toml")).expect("settings");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(wildnet_node::server::run_with(
        settings,
        wildnet_node::server::Listeners {
            federation: Some(listener),
        },
        async move {
            let _ = rx.await;
        },
    ));
    let socket = dir.join("data").join("wildnet.sock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "node {agency} did not start");
        assert!(!task.is_finished(), "node {agency} stopped during start-up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    FedNode {
        agency: agency.to_string(),
        dir: dir.to_path_buf(),
        addr,
        stop: Some(tx),
        task: Some(task),
    }
}

impl TestFederation {
    /// Creates a federation of `agencies` (with `groups`) and starts a node
    /// for each; returns once every node is up (not yet necessarily linked).
    pub async fn start(agencies: &[&str], groups: &[(&str, &[&str])]) -> TestFederation {
        TestFederation::start_with(agencies, groups, None).await
    }

    /// Like [`TestFederation::start`], with only the given links (each
    /// pair dials, and pulls from, the other) instead of a full mesh.
    pub async fn start_with(
        agencies: &[&str],
        groups: &[(&str, &[&str])],
        links: Option<&[(&str, &str)]>,
    ) -> TestFederation {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("WILDNET_TEST_LOG")
                    .unwrap_or_else(|_| "off".into()),
            )
            .with_writer(std::io::stderr)
            .try_init();
        let tmp = tempfile::Builder::new()
            .prefix("wnfed")
            .tempdir()
            .expect("tmp");
        let fed_dir = tmp.path().join("fed");
        let mut s = Secretariat::init(&fed_dir, "test federation").expect("federation init");
        let mut prepared = Vec::new();
        for id in agencies {
            let dir = tmp.path().join(id.to_lowercase());
            wildnet_node::identity::init(&dir, id, &format!("{id} test"), &id[..2])
                .expect("agency init");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let req = std::fs::read(dir.join("admission-request.pb")).expect("request");
            s.admit(&req, &addr.to_string(), "duty officer", false, 30)
                .expect("admit");
            prepared.push((id.to_string(), dir, listener));
        }
        for (name, members) in groups {
            let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
            s.group_set(name, &members).expect("group");
        }
        for (id, dir, listener) in &prepared {
            let cert = fed_dir
                .join("issued")
                .join(format!("{}.cert.pem", id.to_lowercase()));
            let listen = listener.local_addr().expect("addr").to_string();
            wildnet_node::join::join(
                dir,
                &cert,
                &fed_dir.join("ca.cert.pem"),
                &fed_dir.join("manifest.pb"),
                Some(&listen),
            )
            .expect("join");
            // Quick re-checks keep the tests short.
            let cfg = dir.join("node.toml");
            let mut text = std::fs::read_to_string(&cfg)
                .expect("cfg")
                .replace("hello_interval_secs = 30", "hello_interval_secs = 1");
            if let Some(links) = links {
                let peers: Vec<String> = links
                    .iter()
                    .filter_map(|(a, b)| {
                        if a == id {
                            Some(format!("{b:?}"))
                        } else if b == id {
                            Some(format!("{a:?}"))
                        } else {
                            None
                        }
                    })
                    .collect();
                text = text.replace(
                    "# peers = [\"ZA-DFFE\"]",
                    &format!("peers = [{}]", peers.join(", ")),
                );
            }
            std::fs::write(&cfg, text).expect("cfg");
        }
        let mut nodes = Vec::new();
        for (id, dir, listener) in prepared {
            nodes.push(start_node(&id, &dir, listener).await);
        }
        TestFederation {
            tmp,
            fed_dir,
            nodes,
        }
    }

    /// A node by agency id.
    pub fn node(&self, id: &str) -> &FedNode {
        self.nodes.iter().find(|n| n.agency == id).expect("node")
    }

    /// The secretariat, to edit the manifest.
    pub fn secretariat(&self) -> Secretariat {
        Secretariat::open(&self.fed_dir).expect("open secretariat")
    }

    /// Waits until `node` reports every agency of `peers` with `state`.
    pub async fn wait_peer_state(&self, node: &str, peers: &[&str], state: &str) {
        let n = self.node(node);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let p = n.peers().await;
            let ok = peers
                .iter()
                .all(|id| p.peers.iter().any(|s| s.agency == *id && s.state == state));
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{node}: peers {peers:?} not {state}: {:?}",
                p.peers
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every node has manifest `version` in force.
    pub async fn wait_manifest(&self, nodes: &[&str], version: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for id in nodes {
            loop {
                let v = self.node(id).peers().await.manifest_version;
                if v == version {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{id} has manifest {v}, expected {version}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// Stops a node gracefully, lets `edit` change its agency dir (config,
    /// store), and starts it again on the same federation address.
    pub async fn restart_with(&mut self, agency: &str, edit: impl FnOnce(&Path)) {
        let idx = self
            .nodes
            .iter()
            .position(|n| n.agency == agency)
            .expect("node");
        let (dir, addr) = (self.nodes[idx].dir.clone(), self.nodes[idx].addr);
        self.nodes[idx].stop().await;
        edit(&dir);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("rebind the node's own address");
        self.nodes[idx] = start_node(agency, &dir, listener).await;
    }

    /// Stops every node.
    pub async fn stop(mut self) {
        for n in &mut self.nodes {
            n.stop().await;
        }
    }
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
            format!("urn:wildnet:agency:{agency}")
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
    let mut c = wildnet_proto::v1::federation_client::FederationClient::new(channel);
    c.hello(pb::HelloRequest {
        manifest_version: 1,
    })
    .await
    .map(|r| r.into_inner())
    .map_err(|e| format!("{}: {}", e.code(), e.message()))
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
