//! The Federation gRPC service (peer-facing, mutual TLS). Every call first
//! names the caller from its TLS certificate and re-checks it against the
//! manifest in force, so a revocation applies to open connections too.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::federation_server::Federation as FederationApi;

use super::gate::{Guarded, Kind, PeerGate, Permit};
use super::status::status;
use crate::node::Node;
use crate::sync::FETCH_MAX;

/// The Federation service over a node.
#[derive(Debug, Clone)]
pub struct FederationService {
    node: Arc<Node>,
    gate: Arc<PeerGate>,
}

type Stream<T> = Guarded<tokio_stream::wrappers::ReceiverStream<Result<T, Status>>>;

impl FederationService {
    /// Serves `node`, which must have a federation, within each peer's
    /// allowance of calls and streams.
    pub fn new(node: Arc<Node>, limits: crate::config::PeerLimits) -> FederationService {
        FederationService {
            node,
            gate: PeerGate::new(limits),
        }
    }

    /// The caller, holding a place in its allowance for the call.
    fn admit<T>(&self, req: &Request<T>, kind: Kind) -> Result<(String, Permit), Status> {
        let peer = self.caller(req)?;
        match self.gate.enter(&peer, kind) {
            Ok(permit) => Ok((peer, permit)),
            Err(refusal) => {
                tracing::warn!(peer = %peer, cause = %refusal.message(), "federation call refused: over its limit");
                let setting = match kind {
                    Kind::Call => "limits.peer_requests",
                    Kind::Stream => "limits.peer_streams",
                };
                crate::telemetry::Telemetry::inc(
                    &self.node.store().telemetry().limit_refusals,
                    crate::telemetry::label("setting", setting),
                );
                if let Some(fed) = self.node.federation() {
                    fed.peer_update(&peer, |p| {
                        p.limited += 1;
                        p.last_limit = refusal.message().to_string();
                    });
                }
                Err(refusal)
            }
        }
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
        let agency = crate::membership::tls::agency_of(cert).map_err(Status::unauthenticated)?;
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
    type PullStream = Stream<pb::PullItem>;
    type ReconcileStream = Stream<pb::ReconcileResponse>;

    async fn reconcile(
        &self,
        req: Request<tonic::Streaming<pb::ReconcileRequest>>,
    ) -> Result<Response<Self::ReconcileStream>, Status> {
        let (peer, permit) = self.admit(&req, Kind::Stream)?;
        let mut inbound = req.into_inner();
        let node = self.node.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let Some(fed) = node.federation() else { return };
            let policy = fed.policy_for(&peer).clone();
            let me = node.agency().to_string();
            let (n, p) = (node.clone(), peer.clone());
            // The set the caller should hold from us, computed once per call.
            let ours =
                match tokio::task::spawn_blocking(move || n.sendable_ids(&me, &p, &policy)).await {
                    Ok(Ok(ids)) => ids,
                    Ok(Err(e)) => {
                        tracing::error!(cause = %e, "reconcile: cannot list records");
                        let _ = tx
                            .send(Err(Status::internal("the source cannot list its records")))
                            .await;
                        return;
                    }
                    Err(_) => return,
                };
            tracing::debug!(peer = %peer, ids = ours.len(), "reconcile");
            // Rounds are bounded: each one at least halves the ranges' sizes.
            for _ in 0..64 {
                let msg = match inbound.message().await {
                    Ok(Some(m)) => m,
                    _ => return,
                };
                let reply = crate::membership::reconcile::respond(&ours, &msg)
                    .map_err(Status::invalid_argument);
                let stop = reply.is_err();
                if tx.send(reply).await.is_err() || stop {
                    return;
                }
            }
            let _ = tx
                .send(Err(Status::resource_exhausted(
                    "reconciliation took more than 64 rounds",
                )))
                .await;
        });
        Ok(Response::new(Guarded::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            permit,
        )))
    }

    async fn fetch(
        &self,
        req: Request<pb::FetchRequest>,
    ) -> Result<Response<pb::FetchResponse>, Status> {
        let (peer, _permit) = self.admit(&req, Kind::Call)?;
        let ids = req.into_inner().ids;
        if ids.len() > FETCH_MAX {
            return Err(Status::invalid_argument(format!(
                "{} ids in one Fetch; at most {FETCH_MAX}",
                ids.len()
            )));
        }
        let fed = self
            .node
            .federation()
            .ok_or_else(|| Status::unavailable("this node is not in a federation"))?;
        let m = fed.current();
        let policy = fed.policy_for(&peer);
        let me = self.node.agency().to_string();
        let now = crate::now_ms();
        let mut records = Vec::new();
        let mut added = crate::node::AddedCache::default();
        for id in ids {
            let Some(id) = crate::record::RecordId::from_slice(&id) else {
                continue;
            };
            let stored = self.node.store().get(&id).map_err(|e| {
                tracing::error!(cause = %e, "record read failed");
                Status::internal("the source cannot read a record")
            })?;
            // The same rule as Pull: only what the caller may hold.
            if let Some(s) = stored
                && crate::policy::may_serve(
                    s.record.body(),
                    &me,
                    &peer,
                    &m,
                    policy,
                    now,
                    added.of(&self.node, &s.record),
                )
            {
                records.push(s.record.signed().clone());
            }
        }
        fed.peer_update(&peer, |p| p.sent += records.len() as u64);
        Ok(Response::new(pb::FetchResponse { records }))
    }

    async fn acknowledge(
        &self,
        req: Request<pb::ReceiptBatch>,
    ) -> Result<Response<pb::AcknowledgeResponse>, Status> {
        let (peer, _permit) = self.admit(&req, Kind::Call)?;
        let batch = req.into_inner();
        if batch.receipts.len() > 1024 {
            return Err(Status::invalid_argument(
                "more than 1024 receipts in one Acknowledge",
            ));
        }
        let accepted = self
            .node
            .accept_receipts(&peer, batch)
            .await
            .map_err(super::status::status)?;
        Ok(Response::new(pb::AcknowledgeResponse { accepted }))
    }

    async fn pull(
        &self,
        req: Request<pb::PullRequest>,
    ) -> Result<Response<Self::PullStream>, Status> {
        let (peer, permit) = self.admit(&req, Kind::Stream)?;
        let r = req.into_inner();
        tracing::debug!(peer = %peer, since = r.since, follow = r.follow, "pull");
        Ok(Response::new(Guarded::new(
            crate::sync::serve_pull(self.node.clone(), peer, r),
            permit,
        )))
    }

    async fn hello(
        &self,
        req: Request<pb::HelloRequest>,
    ) -> Result<Response<pb::HelloResponse>, Status> {
        let (peer, _permit) = self.admit(&req, Kind::Call)?;
        let theirs = req.into_inner().manifest_version;
        let ours = self.node.manifest_version();
        tracing::debug!(peer = %peer, theirs, ours, "hello");
        let policy = self
            .node
            .federation()
            .map(|f| crate::policy::to_pb(f.policy_for(&peer), self.node.policy_epoch(&peer)));
        Ok(Response::new(pb::HelloResponse {
            agency: self.node.agency().to_string(),
            manifest_version: ours,
            policy,
            feed_head: *self.node.store().head_watch().borrow(),
        }))
    }

    async fn get_manifest(
        &self,
        req: Request<pb::GetManifestRequest>,
    ) -> Result<Response<pb::Manifest>, Status> {
        let _permit = self.admit(&req, Kind::Call)?;
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
        let (peer, _permit) = self.admit(&req, Kind::Call)?;
        let r = self
            .node
            .adopt_manifest(req.into_inner(), &format!("peer:{peer}"))
            .await;
        Ok(Response::new(r))
    }

    type DeconflictFilterStream = Stream<pb::FilterChunk>;

    async fn deconflict_filter(
        &self,
        req: Request<pb::FilterRequest>,
    ) -> Result<Response<Self::DeconflictFilterStream>, Status> {
        let (_, permit) = self.admit(&req, Kind::Stream)?;
        let r = req.into_inner();
        // Up to the feed head before serving: a record stored a moment
        // ago is answered for.
        self.node.update_filter().await.map_err(status)?;
        let node = self.node.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            let (mut epoch, mut since) = (r.epoch, r.since);
            loop {
                let chunk = node.filter_chunks(epoch, since).map_err(status);
                let (e, start, tokens, total) = match chunk {
                    Ok(c) => c,
                    Err(s) => {
                        let _ = tx.send(Err(s)).await;
                        return;
                    }
                };
                let n = (tokens.len() / 16) as u64;
                let last = start + n >= total || n == 0;
                let msg = pb::FilterChunk {
                    epoch: e,
                    start,
                    tokens,
                    total,
                };
                if tx.send(Ok(msg)).await.is_err() || last {
                    return;
                }
                (epoch, since) = (e, start + n);
            }
        });
        Ok(Response::new(Guarded::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            permit,
        )))
    }

    async fn deconflict_evaluate(
        &self,
        req: Request<pb::EvaluateRequest>,
    ) -> Result<Response<pb::EvaluateResponse>, Status> {
        let (peer, _permit) = self.admit(&req, Kind::Call)?;
        let r = req.into_inner();
        let (evaluated, epoch) = self.node.evaluate_for(&peer, &r.blinded).map_err(status)?;
        Ok(Response::new(pb::EvaluateResponse { evaluated, epoch }))
    }

    async fn deconflict_follow_up(
        &self,
        req: Request<pb::FollowUpRequest>,
    ) -> Result<Response<pb::FollowUpResponse>, Status> {
        let (peer, _permit) = self.admit(&req, Kind::Call)?;
        let r = req.into_inner();
        let hits = self
            .node
            .follow_up_for(&peer, r.epoch, &r.tokens)
            .map_err(status)?;
        Ok(Response::new(pb::FollowUpResponse { hits }))
    }
}
