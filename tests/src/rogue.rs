//! A rogue peer: an admitted agency's node replaced by a server that holds
//! that agency's real TLS certificate and record-signing key and serves,
//! in feed order, whatever signed records the test appends — genuine,
//! forged or out of bounds — as a compromised or misbehaving agency could.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use wildnet_proto::v1 as pb;

use crate::fed::Federation;

/// Feed position of the rogue's first record: above any cursor that a
/// test's real node reached, so a node that pulled the replaced node still
/// pulls everything the rogue serves.
pub const FIRST_SEQ: u64 = 1_000_001;

/// The running rogue; its server stops on drop.
pub struct RoguePeer {
    /// The agency it impersonates.
    pub agency: String,
    /// The agency's real record-signing key.
    pub key: SigningKey,
    feed: Arc<watch::Sender<Vec<pb::SignedRecord>>>,
    server: JoinHandle<()>,
}

impl RoguePeer {
    /// Stops `agency`'s node and serves its Federation address in its
    /// place, with its certificate, at the manifest version the first node
    /// of `fed` has in force.
    pub async fn replace(fed: &mut Federation, agency: &str) -> RoguePeer {
        use rustls::pki_types::pem::PemObject;
        let idx = fed
            .nodes
            .iter()
            .position(|n| n.agency == agency)
            .expect("node to replace");
        let other = fed.nodes.iter().find(|n| n.agency != agency).expect("peer");
        let manifest_version = other.peers().await.expect("peers").manifest_version;
        let (dir, addr) = (
            fed.nodes[idx].dir.clone(),
            fed.nodes[idx].addr.expect("federated"),
        );
        fed.nodes[idx].stop().await.expect("stop");

        let settings =
            wildnet_node::config::Settings::load(&dir.join("node.toml")).expect("settings");
        let key = wildnet_node::identity::load_signing_key(&settings.signing_key).expect("key");
        let fs = settings.federation.as_ref().expect("federation settings");
        let cert = rustls::pki_types::CertificateDer::from_pem_file(&fs.cert).expect("cert");
        let tls_key =
            rustls::pki_types::PrivateKeyDer::from_pem_file(&settings.tls_key).expect("tls key");
        let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_no_client_auth()
        .with_single_cert(vec![cert], tls_key)
        .expect("server config");
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("rebind the replaced node's address");
        let (conn_tx, conn_rx) = tokio::sync::mpsc::channel(8);
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                if let Ok(tls) = acceptor.accept(tcp).await
                    && conn_tx.send(Ok::<_, std::io::Error>(tls)).await.is_err()
                {
                    return;
                }
            }
        });
        let feed = Arc::new(watch::channel(Vec::new()).0);
        let service = Service {
            agency: agency.to_string(),
            manifest_version,
            feed: feed.clone(),
        };
        let server = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(pb::federation_server::FederationServer::new(service))
                .serve_with_incoming(ReceiverStream::new(conn_rx))
                .await;
            accept.abort();
        });
        RoguePeer {
            agency: agency.to_string(),
            key,
            feed,
            server,
        }
    }

    /// Appends records to the feed; followers get them at once.
    pub fn serve(&self, records: impl IntoIterator<Item = pb::SignedRecord>) {
        self.feed.send_modify(|f| f.extend(records));
    }
}

impl Drop for RoguePeer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Service {
    agency: String,
    manifest_version: u64,
    feed: Arc<watch::Sender<Vec<pb::SignedRecord>>>,
}

/// Streams the feed after `since`, marks each catch-up like a real node,
/// and follows appends until the caller goes.
async fn follow(
    mut feed: watch::Receiver<Vec<pb::SignedRecord>>,
    since: u64,
    tx: tokio::sync::mpsc::Sender<Result<pb::PullItem, Status>>,
) {
    let mut sent = since.saturating_sub(FIRST_SEQ - 1) as usize;
    loop {
        let new: Vec<pb::SignedRecord> = feed
            .borrow_and_update()
            .iter()
            .skip(sent)
            .cloned()
            .collect();
        for record in new {
            sent += 1;
            let item = pb::PullItem {
                seq: FIRST_SEQ - 1 + sent as u64,
                record: Some(record),
                caught_up: false,
                id: Vec::new(),
            };
            if tx.send(Ok(item)).await.is_err() {
                return;
            }
        }
        let mark = pb::PullItem {
            seq: FIRST_SEQ - 1 + sent as u64,
            record: None,
            caught_up: true,
            id: Vec::new(),
        };
        if tx.send(Ok(mark)).await.is_err() {
            return;
        }
        tokio::select! {
            r = feed.changed() => if r.is_err() { return },
            () = tx.closed() => return,
        }
    }
}

fn refuse<T>() -> Result<T, Status> {
    Err(Status::unimplemented("rogue peer"))
}

#[tonic::async_trait]
impl pb::federation_server::Federation for Service {
    type PullStream = ReceiverStream<Result<pb::PullItem, Status>>;
    type ReconcileStream = ReceiverStream<Result<pb::ReconcileResponse, Status>>;
    type DeconflictFilterStream = ReceiverStream<Result<pb::FilterChunk, Status>>;

    async fn hello(
        &self,
        _: Request<pb::HelloRequest>,
    ) -> Result<Response<pb::HelloResponse>, Status> {
        Ok(Response::new(pb::HelloResponse {
            agency: self.agency.clone(),
            manifest_version: self.manifest_version,
            policy: None,
            feed_head: FIRST_SEQ - 1 + self.feed.borrow().len() as u64,
        }))
    }

    async fn get_manifest(
        &self,
        _: Request<pb::GetManifestRequest>,
    ) -> Result<Response<pb::Manifest>, Status> {
        refuse()
    }

    async fn offer_manifest(
        &self,
        _: Request<pb::Manifest>,
    ) -> Result<Response<pb::OfferManifestResponse>, Status> {
        refuse()
    }

    async fn pull(
        &self,
        req: Request<pb::PullRequest>,
    ) -> Result<Response<Self::PullStream>, Status> {
        let since = req.into_inner().since;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(follow(self.feed.subscribe(), since, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    /// Answers the completeness check over everything it serves, like a
    /// real node (the caller decides what it may hold).
    async fn reconcile(
        &self,
        req: Request<tonic::Streaming<pb::ReconcileRequest>>,
    ) -> Result<Response<Self::ReconcileStream>, Status> {
        let mut ids: Vec<[u8; 32]> = self
            .feed
            .borrow()
            .iter()
            .map(|r| *wildnet_node::record::RecordId::of_body(&r.body).as_bytes())
            .collect();
        ids.sort_unstable();
        let mut inbound = req.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            while let Ok(Some(msg)) = inbound.message().await {
                let reply = wildnet_node::membership::reconcile::respond(&ids, &msg)
                    .map_err(Status::invalid_argument);
                if tx.send(reply).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn fetch(
        &self,
        req: Request<pb::FetchRequest>,
    ) -> Result<Response<pb::FetchResponse>, Status> {
        let want = req.into_inner().ids;
        let records = self
            .feed
            .borrow()
            .iter()
            .filter(|r| {
                let id = wildnet_node::record::RecordId::of_body(&r.body);
                want.iter().any(|w| w.as_slice() == id.as_bytes())
            })
            .cloned()
            .collect();
        Ok(Response::new(pb::FetchResponse { records }))
    }

    async fn acknowledge(
        &self,
        _: Request<pb::ReceiptBatch>,
    ) -> Result<Response<pb::AcknowledgeResponse>, Status> {
        refuse()
    }

    async fn deconflict_filter(
        &self,
        _: Request<pb::FilterRequest>,
    ) -> Result<Response<Self::DeconflictFilterStream>, Status> {
        refuse()
    }

    async fn deconflict_evaluate(
        &self,
        _: Request<pb::EvaluateRequest>,
    ) -> Result<Response<pb::EvaluateResponse>, Status> {
        refuse()
    }

    async fn deconflict_follow_up(
        &self,
        _: Request<pb::FollowUpRequest>,
    ) -> Result<Response<pb::FollowUpResponse>, Status> {
        refuse()
    }
}
