//! The Federation gRPC service (peer-facing, mutual TLS). Every call first
//! names the caller from its TLS certificate and re-checks it against the
//! manifest in force, so a revocation applies to open connections too.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::federation_server::Federation as FederationApi;

use crate::node::Node;

/// The Federation service over a node.
#[derive(Debug, Clone)]
pub struct FederationService {
    node: Arc<Node>,
}

impl FederationService {
    /// Serves `node`, which must have a federation.
    pub fn new(node: Arc<Node>) -> FederationService {
        FederationService { node }
    }

    /// The calling agency, authenticated by its certificate and the manifest.
    fn caller<T>(&self, req: &Request<T>) -> Result<String, Status> {
        let fed = self
            .node
            .federation()
            .ok_or_else(|| Status::unavailable("this node is not in a federation"))?;
        let certs = req.peer_certs().ok_or_else(|| {
            Status::unauthenticated("no client certificate: mutual TLS is required")
        })?;
        let cert = certs.first().ok_or_else(|| {
            Status::unauthenticated("no client certificate: mutual TLS is required")
        })?;
        let agency = super::tls::agency_of(cert).map_err(Status::unauthenticated)?;
        if let Err(why) = fed.current().check_cert(&agency, cert, crate::now_ms()) {
            tracing::warn!(peer = %agency, cause = %why, "federation call refused");
            self.node
                .audit_nowait(&format!("peer:{agency}"), "refuse", why.clone());
            return Err(Status::permission_denied(why));
        }
        fed.peer_update(&agency, |p| p.last_inbound = crate::now_ms());
        Ok(agency)
    }
}

#[tonic::async_trait]
impl FederationApi for FederationService {
    type PullStream = tokio_stream::wrappers::ReceiverStream<Result<pb::PullItem, Status>>;

    async fn pull(
        &self,
        req: Request<pb::PullRequest>,
    ) -> Result<Response<Self::PullStream>, Status> {
        let peer = self.caller(&req)?;
        let r = req.into_inner();
        tracing::debug!(peer = %peer, since = r.since, follow = r.follow, "pull");
        Ok(Response::new(super::sync::serve_pull(
            self.node.clone(),
            peer,
            r,
        )))
    }

    async fn hello(
        &self,
        req: Request<pb::HelloRequest>,
    ) -> Result<Response<pb::HelloResponse>, Status> {
        let peer = self.caller(&req)?;
        let theirs = req.into_inner().manifest_version;
        let ours = self.node.manifest_version();
        tracing::debug!(peer = %peer, theirs, ours, "hello");
        Ok(Response::new(pb::HelloResponse {
            agency: self.node.agency().to_string(),
            manifest_version: ours,
        }))
    }

    async fn get_manifest(
        &self,
        req: Request<pb::GetManifestRequest>,
    ) -> Result<Response<pb::Manifest>, Status> {
        self.caller(&req)?;
        let fed = self
            .node
            .federation()
            .ok_or_else(|| Status::unavailable("this node is not in a federation"))?;
        Ok(Response::new(fed.current().manifest().clone()))
    }

    async fn offer_manifest(
        &self,
        req: Request<pb::Manifest>,
    ) -> Result<Response<pb::OfferManifestResponse>, Status> {
        let peer = self.caller(&req)?;
        let r = self
            .node
            .adopt_manifest(req.into_inner(), &format!("peer:{peer}"))
            .await;
        Ok(Response::new(r))
    }
}
