//! The Agency gRPC service: converts requests, calls [`Node`], maps errors.
//! Error mapping lives in one function, [`super::status::status`].

use std::sync::Arc;

use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_server::Agency;

use super::status::status;
use crate::node::{Import, Node, NodeError};
use crate::storage::AuditDraft;

pub use super::views::{stored_pb, stored_pbs};

/// The Agency service over a node.
#[derive(Debug, Clone)]
pub struct AgencyService {
    node: Arc<Node>,
}

impl AgencyService {
    /// Serves `node`.
    pub fn new(node: Arc<Node>) -> AgencyService {
        AgencyService { node }
    }
}

/// Who is calling: the Unix uid, or the TCP peer address.
fn actor<T>(req: &Request<T>) -> String {
    if let Some(info) = req
        .extensions()
        .get::<tonic::transport::server::UdsConnectInfo>()
    {
        if let Some(cred) = info.peer_cred {
            return format!("uid:{}", cred.uid());
        }
        return "uid:unknown".into();
    }
    match req.remote_addr() {
        Some(a) => format!("tcp:{a}"),
        None => "unknown".into(),
    }
}

impl AgencyService {
    async fn audit(&self, actor: String, action: &str, detail: String) {
        let entry = AuditDraft {
            actor,
            action: action.into(),
            detail,
        };
        if let Err(e) = self.node.store().audit(entry, false).await {
            tracing::error!(cause = %e, "audit append failed");
        }
    }
}

#[tonic::async_trait]
impl Agency for AgencyService {
    async fn info(
        &self,
        _req: Request<pb::InfoRequest>,
    ) -> Result<Response<pb::InfoResponse>, Status> {
        let n = &self.node;
        Ok(Response::new(pb::InfoResponse {
            agency: n.agency().to_string(),
            name: n.name().to_string(),
            country: n.agency().country().to_string(),
            version: env!("CARGO_PKG_VERSION").into(),
            signing_public_key: hex::encode(n.public_key().as_bytes()),
            records: n.store().record_count().map_err(|e| status(e.into()))?,
            feed_head: n.store().feed_head().map_err(|e| status(e.into()))?,
            disk_bytes: n.store().size_on_disk().map_err(|e| status(e.into()))?,
            tombstones: n.store().tombstone_count().map_err(|e| status(e.into()))?,
        }))
    }

    async fn publish(
        &self,
        req: Request<pb::PublishRequest>,
    ) -> Result<Response<pb::PublishResponse>, Status> {
        let who = actor(&req);
        let draft = req
            .into_inner()
            .draft
            .ok_or_else(|| Status::invalid_argument("draft is missing"))?;
        let p = self.node.publish(draft, &who).await.map_err(status)?;
        Ok(Response::new(pb::PublishResponse {
            id: p.id.to_hex(),
            duplicate: p.duplicate,
        }))
    }

    async fn import(
        &self,
        req: Request<Streaming<pb::ImportItem>>,
    ) -> Result<Response<pb::ImportSummary>, Status> {
        let who = actor(&req);
        let mut stream = req.into_inner();
        let mut import = Import::new(self.node.clone());
        while let Some(item) = stream.next().await {
            let item = item?;
            import.push(item.line, item.draft).await.map_err(status)?;
        }
        let summary = import.finish().await.map_err(status)?;
        tracing::info!(
            accepted = summary.accepted,
            duplicates = summary.duplicates,
            rejected = summary.rejected,
            actor = %who,
            "import finished"
        );
        self.audit(
            who,
            "import",
            format!(
                "accepted={} duplicates={} rejected={}",
                summary.accepted, summary.duplicates, summary.rejected
            ),
        )
        .await;
        Ok(Response::new(summary))
    }

    async fn get(&self, req: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        let who = actor(&req);
        let id = req.into_inner().id;
        let (s, history) = self.node.get(&id).map_err(status)?;
        self.audit(who, "get", s.record.id().to_hex()).await;
        let holders = self
            .node
            .holders(&s.record.id())
            .map_err(status)?
            .into_iter()
            .map(|(agency, at)| pb::Holding { agency, at })
            .collect();
        let correlations = self.node.correlation_count(&s).map_err(status)?;
        Ok(Response::new(pb::GetResponse {
            record: Some(stored_pb(&s)),
            history: stored_pbs(&history),
            holders,
            correlations: u32::try_from(correlations).unwrap_or(u32::MAX),
        }))
    }

    async fn query(
        &self,
        req: Request<pb::QueryRequest>,
    ) -> Result<Response<pb::QueryResponse>, Status> {
        let who = actor(&req);
        let q = req.into_inner();
        let started = std::time::Instant::now();
        let page = self.node.query(&q).map_err(status)?;
        self.node
            .store()
            .telemetry()
            .query_seconds
            .observe(started.elapsed().as_secs_f64());
        self.audit(
            who,
            "query",
            super::read::describe_query(&q, page.records.len()),
        )
        .await;
        Ok(Response::new(pb::QueryResponse {
            records: super::views::page_pbs(&page.records, q.verify),
            next_page_token: page.next.unwrap_or_default(),
        }))
    }

    async fn stats(
        &self,
        req: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsResponse>, Status> {
        let who = actor(&req);
        let by = req.into_inner().by;
        self.audit(who, "stats", format!("by={by:?}")).await;
        Ok(Response::new(super::read::stats(&self.node, &by)?))
    }

    async fn retract(
        &self,
        req: Request<pb::RetractRequest>,
    ) -> Result<Response<pb::PublishResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        if r.reason.trim().is_empty() {
            return Err(Status::invalid_argument("a retraction needs a --reason"));
        }
        let p = self
            .node
            .retract(&r.id, &r.reason, &who)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::PublishResponse {
            id: p.id.to_hex(),
            duplicate: p.duplicate,
        }))
    }

    async fn audit_list(
        &self,
        req: Request<pb::AuditListRequest>,
    ) -> Result<Response<pb::AuditListResponse>, Status> {
        let r = req.into_inner();
        let limit = if r.limit == 0 {
            100
        } else {
            r.limit.min(10_000)
        } as usize;
        let entries = self
            .node
            .store()
            .audit_list(r.since, limit)
            .map_err(|e| status(e.into()))?;
        Ok(Response::new(pb::AuditListResponse { entries }))
    }

    async fn audit_verify(
        &self,
        _req: Request<pb::AuditVerifyRequest>,
    ) -> Result<Response<pb::AuditVerifyResponse>, Status> {
        let v = self
            .node
            .store()
            .audit_verify()
            .map_err(|e| status(e.into()))?;
        let (first_broken, reason) = v.broken.unwrap_or((0, String::new()));
        Ok(Response::new(pb::AuditVerifyResponse {
            ok: first_broken == 0,
            entries: v.entries,
            first_broken,
            reason,
        }))
    }

    async fn check(
        &self,
        req: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let r = super::admin::check(&self.node, actor(&req)).await?;
        Ok(Response::new(r))
    }

    async fn backup(
        &self,
        req: Request<pb::BackupRequest>,
    ) -> Result<Response<pb::BackupResponse>, Status> {
        let who = actor(&req);
        let r = super::admin::backup(&self.node, who, &req.into_inner().dir).await?;
        Ok(Response::new(r))
    }

    async fn get_manifest(
        &self,
        _req: Request<pb::GetManifestRequest>,
    ) -> Result<Response<pb::Manifest>, Status> {
        let fed = self.node.federation().ok_or_else(not_federated)?;
        Ok(Response::new(fed.current().manifest().clone()))
    }

    async fn install_manifest(
        &self,
        req: Request<pb::Manifest>,
    ) -> Result<Response<pb::OfferManifestResponse>, Status> {
        let who = actor(&req);
        self.node.federation().ok_or_else(not_federated)?;
        let r = self.node.adopt_manifest(req.into_inner(), &who).await;
        if !r.adopted && r.version == 0 {
            return Err(Status::failed_precondition(r.reason));
        }
        Ok(Response::new(r))
    }

    async fn sync(
        &self,
        req: Request<pb::SyncRequest>,
    ) -> Result<Response<pb::PeersResponse>, Status> {
        let r = req.into_inner();
        let secs = if r.timeout_secs == 0 {
            30
        } else {
            u64::from(r.timeout_secs)
        };
        let wait = r.wait.then(|| std::time::Duration::from_secs(secs));
        self.node
            .sync(&r.peer, r.verify, wait)
            .await
            .map_err(status)?;
        self.peers(Request::new(pb::PeersRequest {})).await
    }

    async fn peers(
        &self,
        _req: Request<pb::PeersRequest>,
    ) -> Result<Response<pb::PeersResponse>, Status> {
        let fed = self.node.federation().ok_or_else(not_federated)?;
        let m = fed.current();
        let wanted = fed.wanted_peers();
        let mut peers = fed.peer_states();
        peers.retain(|p| {
            wanted.iter().any(|(id, _)| id == &p.agency) || m.agency(&p.agency).is_some()
        });
        for p in &mut peers {
            p.receipts_queued = self.node.outbox_len(&p.agency) as u64;
            let w = fed.wire_count(&p.agency);
            p.wire_sent = w.sent.load(std::sync::atomic::Ordering::Relaxed);
            p.wire_received = w.received.load(std::sync::atomic::Ordering::Relaxed);
        }
        Ok(Response::new(pb::PeersResponse {
            federation: m.body().federation.clone(),
            manifest_version: m.version(),
            peers,
        }))
    }

    type SubscribeAlertsStream = tokio_stream::wrappers::ReceiverStream<Result<pb::Alert, Status>>;

    async fn list_alerts(
        &self,
        req: Request<pb::ListAlertsRequest>,
    ) -> Result<Response<pb::ListAlertsResponse>, Status> {
        let r = req.into_inner();
        let limit = if r.limit == 0 { 1000 } else { r.limit as usize };
        let alerts = self
            .node
            .list_alerts(r.after, r.unacked, limit)
            .map_err(status)?;
        Ok(Response::new(pb::ListAlertsResponse { alerts }))
    }

    async fn subscribe_alerts(
        &self,
        req: Request<pb::SubscribeAlertsRequest>,
    ) -> Result<Response<Self::SubscribeAlertsStream>, Status> {
        let stream = super::joint::subscribe_alerts(self.node.clone(), req.into_inner());
        Ok(Response::new(stream))
    }

    async fn ack_alert(
        &self,
        req: Request<pb::AckAlertRequest>,
    ) -> Result<Response<pb::Alert>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let a = self
            .node
            .ack_alert(r.id, &who, &r.note)
            .await
            .map_err(status)?;
        Ok(Response::new(a))
    }

    async fn watch_add(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<pb::WatchResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let sel = super::joint::watch_selector(&r).map_err(status)?;
        let (e, held) = self
            .node
            .watch_add(sel, &r.note, &who)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::WatchResponse {
            entries: vec![e],
            held: u32::try_from(held).unwrap_or(u32::MAX),
        }))
    }

    async fn watch_remove(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<pb::WatchResponse>, Status> {
        let who = actor(&req);
        let r = req.into_inner();
        let sel = super::joint::watch_selector(&r).map_err(status)?;
        let e = self.node.watch_remove(sel, &who).await.map_err(status)?;
        Ok(Response::new(pb::WatchResponse {
            entries: vec![e],
            held: 0,
        }))
    }

    async fn watch_list(
        &self,
        _req: Request<pb::WatchListRequest>,
    ) -> Result<Response<pb::WatchResponse>, Status> {
        let entries = self.node.watch_list().map_err(status)?;
        Ok(Response::new(pb::WatchResponse { entries, held: 0 }))
    }

    async fn deconflict(
        &self,
        req: Request<pb::DeconflictRequest>,
    ) -> Result<Response<pb::DeconflictResponse>, Status> {
        let who = actor(&req);
        let answers = super::joint::deconflict(&self.node, &req.into_inner(), &who)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeconflictResponse { answers }))
    }

    async fn list_operations(
        &self,
        _req: Request<pb::ListOperationsRequest>,
    ) -> Result<Response<pb::ListOperationsResponse>, Status> {
        let operations = self.node.operations().map_err(status)?;
        Ok(Response::new(pb::ListOperationsResponse { operations }))
    }

    async fn get_operation(
        &self,
        req: Request<pb::OperationBoardRequest>,
    ) -> Result<Response<pb::OperationBoard>, Status> {
        let who = actor(&req);
        let board = super::joint::operation_board(&self.node, &req.into_inner(), &who)
            .await
            .map_err(status)?;
        Ok(Response::new(board))
    }

    async fn correlate(
        &self,
        req: Request<pb::CorrelateRequest>,
    ) -> Result<Response<pb::CorrelateResponse>, Status> {
        let who = actor(&req);
        let req = req.into_inner();
        let out = super::joint::correlate(&self.node, &req).map_err(status)?;
        let what = if req.top {
            "top".to_string()
        } else if req.id.is_empty() {
            req.selector.clone()
        } else {
            out.id.clone()
        };
        self.audit(who, "correlate", what).await;
        Ok(Response::new(out))
    }
}

fn not_federated() -> Status {
    status(NodeError::NotFederated)
}
