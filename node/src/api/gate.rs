//! Limits on work in progress. Each peer has an allowance of concurrent
//! calls and of open streams on the Federation listener; the Agency API
//! has one allowance for all local callers. Over an allowance a call is
//! refused at once with `RESOURCE_EXHAUSTED`, naming the limit and its
//! setting: nothing queues, so one caller's flood never delays the others.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

pub use crate::config::PeerLimits;

/// What a call holds while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A unary call, held until it answers.
    Call,
    /// A stream, held until it ends or the caller drops it.
    Stream,
}

/// Counts each peer's calls and streams in progress.
#[derive(Debug)]
pub struct PeerGate {
    limits: PeerLimits,
    open: Mutex<HashMap<String, [usize; 2]>>,
}

/// A call's or stream's place in its peer's allowance, given back on drop.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<PeerGate>,
    peer: String,
    kind: Kind,
}

impl PeerGate {
    /// A gate with `limits` for every peer.
    pub fn new(limits: PeerLimits) -> Arc<PeerGate> {
        Arc::new(PeerGate {
            limits,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a place for `peer`, or the refusal that names the limit.
    pub fn enter(self: &Arc<Self>, peer: &str, kind: Kind) -> Result<Permit, Status> {
        let (limit, what, setting) = match kind {
            Kind::Call => (self.limits.requests, "calls in progress", "peer_requests"),
            Kind::Stream => (self.limits.streams, "streams open", "peer_streams"),
        };
        let mut open = self
            .open
            .lock()
            .map_err(|_| Status::internal("the peer limiter is poisoned"))?;
        let n = &mut open.entry(peer.to_string()).or_default()[kind as usize];
        if *n >= limit {
            return Err(Status::resource_exhausted(format!(
                "{peer} has {n} {what} on this node, its limit ([limits] {setting} = {limit}); \
                 retry when one ends"
            )));
        }
        *n += 1;
        Ok(Permit {
            gate: self.clone(),
            peer: peer.to_string(),
            kind,
        })
    }

    /// How many calls and streams `peer` has in progress.
    pub fn open(&self, peer: &str) -> (usize, usize) {
        let open = self.open.lock().map(|o| o.get(peer).copied());
        let [c, s] = open.ok().flatten().unwrap_or_default();
        (c, s)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut open) = self.gate.open.lock()
            && let Some(counts) = open.get_mut(&self.peer)
        {
            counts[self.kind as usize] = counts[self.kind as usize].saturating_sub(1);
            if *counts == [0, 0] {
                open.remove(&self.peer);
            }
        }
    }
}

/// A response stream that holds its peer's [`Permit`] until it ends or is
/// dropped.
#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    _permit: Permit,
}

impl<S> Guarded<S> {
    /// `inner`, holding `permit`.
    pub fn new(inner: S, permit: Permit) -> Guarded<S> {
        Guarded {
            inner,
            _permit: permit,
        }
    }
}

impl<S: tokio_stream::Stream + Unpin> tokio_stream::Stream for Guarded<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// A gRPC service (the Agency API) with a cap on requests in progress,
/// shared by every listener it is served on (`[limits] api_requests`).
#[derive(Debug, Clone)]
pub struct ApiLimit<S> {
    inner: S,
    slots: Arc<Semaphore>,
    limit: usize,
    refused: prometheus_client::metrics::counter::Counter,
}

impl<S> ApiLimit<S> {
    /// `inner`, serving at most `slots`' permits at once; each refusal
    /// adds one to `refused`.
    pub fn new(
        inner: S,
        slots: Arc<Semaphore>,
        limit: usize,
        refused: prometheus_client::metrics::counter::Counter,
    ) -> ApiLimit<S> {
        ApiLimit {
            inner,
            slots,
            limit,
            refused,
        }
    }
}

impl<S> Service<http::Request<Body>> for ApiLimit<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<http::Response<Body>, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match self.slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let served = self.inner.call(req);
                Box::pin(async move {
                    let r = served.await;
                    drop(permit);
                    r
                })
            }
            Err(_) => {
                let limit = self.limit;
                self.refused.inc();
                tracing::warn!(limit, "agency api request refused: too many in progress");
                let s = Status::resource_exhausted(format!(
                    "the node is serving {limit} Agency API requests already, its limit \
                     ([limits] api_requests = {limit}); retry shortly"
                ));
                Box::pin(async move { Ok(s.into_http()) })
            }
        }
    }
}

impl<S: NamedService> NamedService for ApiLimit<S> {
    const NAME: &'static str = S::NAME;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_peer_has_its_own_allowance_given_back_on_drop() {
        let gate = PeerGate::new(PeerLimits {
            requests: 2,
            streams: 1,
        });
        let a1 = gate.enter("KE-KWS", Kind::Call).expect("first");
        let _a2 = gate.enter("KE-KWS", Kind::Call).expect("second");
        let e = gate.enter("KE-KWS", Kind::Call).expect_err("third");
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(e.message().contains("[limits] peer_requests = 2"), "{e}");
        // Another peer is not affected, nor are streams.
        let _b = gate.enter("ZA-DFFE", Kind::Call).expect("another peer");
        let s = gate.enter("KE-KWS", Kind::Stream).expect("a stream");
        let e = gate
            .enter("KE-KWS", Kind::Stream)
            .expect_err("a second stream");
        assert!(e.message().contains("[limits] peer_streams = 1"), "{e}");
        assert_eq!(gate.open("KE-KWS"), (2, 1));
        drop(a1);
        drop(s);
        assert_eq!(gate.open("KE-KWS"), (1, 0));
        gate.enter("KE-KWS", Kind::Call)
            .expect("a place was given back");
        gate.enter("KE-KWS", Kind::Stream)
            .expect("the stream place too");
    }

    #[test]
    fn a_guarded_stream_holds_its_place_until_dropped() {
        let gate = PeerGate::new(PeerLimits {
            requests: 1,
            streams: 1,
        });
        let permit = gate.enter("KE-KWS", Kind::Stream).expect("stream");
        let stream = Guarded::new(tokio_stream::iter([1, 2]), permit);
        assert!(gate.enter("KE-KWS", Kind::Stream).is_err());
        drop(stream);
        assert_eq!(gate.open("KE-KWS"), (0, 0));
    }
}
