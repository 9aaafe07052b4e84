//! The node's HTTP listener (`[http]`): `/metrics` (OpenMetrics text),
//! `/healthz`, `/readyz`, and the read-only dashboard — server-rendered
//! HTML with inline SVG plots, no scripts. It reads what the Agency API
//! reads (the same node operations), shows only what this node holds for
//! its own analysts, and audits every page that shows records with the
//! user. Off loopback it serves HTTPS with a login ([`users`]); the
//! settings refuse anything else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use crate::node::Node;

mod access;
mod lag;
mod metrics;
mod pages;
mod serve;
mod svg;
pub mod users;

pub use lag::LagHistory;
pub use serve::{serve, tls_config};

/// How often peer lag is sampled for the dashboard's plot.
const LAG_SAMPLE: Duration = Duration::from_secs(10);

/// File in the data dir holding the bound HTTP address.
pub const HTTP_ADDR_FILE: &str = "http.addr";

/// What the handlers share.
pub struct Web {
    node: Arc<Node>,
    users: Option<users::Users>,
    ready: Ready,
    lag: Arc<LagHistory>,
    /// Password checks in progress ([`access::CHECKS`] at most).
    logins: Arc<tokio::sync::Semaphore>,
}

/// Readiness: the node's listeners are bound (set by the server once the
/// last one is) and it is not stopping.
#[derive(Debug, Clone, Default)]
pub struct Ready(Arc<AtomicBool>);

impl Ready {
    /// Marks the node ready (true) or not.
    pub fn set(&self, up: bool) {
        self.0.store(up, Ordering::Release);
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl Web {
    /// The shared state of the handlers.
    pub fn new(
        node: Arc<Node>,
        users: Option<users::Users>,
        ready: Ready,
        lag: Arc<LagHistory>,
    ) -> Arc<Web> {
        Arc::new(Web {
            node,
            users,
            ready,
            lag,
            logins: Arc::new(tokio::sync::Semaphore::new(access::CHECKS)),
        })
    }
}

/// The routes, behind the login (when users are set), with a request
/// timeout, no request bodies, and headers that keep pages from being
/// framed, cached or running scripts.
pub fn router(web: Arc<Web>) -> Router {
    use tower_http::set_header::SetResponseHeaderLayer;
    let header = |name, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/readyz", axum::routing::get(readyz))
        .route("/metrics", axum::routing::get(metrics::handler))
        .merge(pages::routes())
        .layer(axum::middleware::from_fn_with_state(
            web.clone(),
            access::login,
        ))
        .layer(axum::middleware::from_fn(no_bodies))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        ))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::CACHE_CONTROL, "no-store"))
        .with_state(web)
}

/// The listener is read-only: GET and HEAD, with no body.
async fn no_bodies(req: Request, next: Next) -> Response {
    use axum::http::Method;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "this listener is read-only: GET and HEAD only\n",
        )
            .into_response();
    }
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    if has_body {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "requests carry no body here\n",
        )
            .into_response();
    }
    next.run(req).await
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the store is open, a manifest is in force (when federated), and
/// the listeners are bound. 503 with what is not, otherwise 200.
async fn readyz(State(web): State<Arc<Web>>) -> Response {
    let mut lines = Vec::new();
    let mut ok = true;
    let store = web.node.store().feed_head().is_ok() && !web.node.store().is_closed();
    ok &= store;
    lines.push(format!("store: {}", if store { "open" } else { "closed" }));
    if let Some(fed) = web.node.federation() {
        let version = fed.current().version();
        ok &= version > 0;
        lines.push(match version {
            0 => "manifest: none in force".to_string(),
            v => format!("manifest: version {v} in force"),
        });
    }
    let bound = web.ready.get();
    ok &= bound;
    lines.push(format!(
        "listeners: {}",
        if bound {
            "bound"
        } else {
            "not bound (starting or stopping)"
        }
    ));
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, format!("{}\n", lines.join("\n"))).into_response()
}

/// Starts the listener of `h` and the sampler of peer lag behind the
/// dashboard's plot; returns their tasks (they end when `stop` turns
/// true, the listener once its connections have ended).
pub async fn start(
    node: &Arc<Node>,
    h: &crate::config::HttpSettings,
    data_dir: &std::path::Path,
    ready: &Ready,
    stop: &watch::Sender<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let users = h.users.as_deref().map(users::Users::load).transpose()?;
    let tls = h
        .tls
        .as_ref()
        .map(|(cert, key)| tls_config(cert, key))
        .transpose()?;
    let (https, login) = (tls.is_some(), users.is_some());
    let listener = bind(h.listen, data_dir).await?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let lag = Arc::new(LagHistory::default());
    let web = Web::new(node.clone(), users, ready.clone(), lag.clone());
    let app = router(web);
    tracing::info!(addr = %local, https, login, "http listening (metrics, health, dashboard)");
    Ok(vec![
        tokio::spawn(serve(listener, tls, app, stop.subscribe())),
        tokio::spawn(sample_lag(node.clone(), lag, LAG_SAMPLE, stop.subscribe())),
    ])
}

/// Binds `addr`, writing the bound address to the data dir's
/// [`HTTP_ADDR_FILE`].
pub async fn bind(
    addr: SocketAddr,
    data_dir: &std::path::Path,
) -> Result<tokio::net::TcpListener, String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        format!("cannot listen on [http] listen = {addr}: {e}: is another process using it?")
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("the HTTP listener has no address: {e}"))?;
    let file = data_dir.join(HTTP_ADDR_FILE);
    std::fs::write(&file, local.to_string())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(listener)
}

/// Samples every peer's lag once a `every` until `stop` (for the lag plot).
pub async fn sample_lag(
    node: Arc<Node>,
    lag: Arc<LagHistory>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if let Some(fed) = node.federation() {
            lag.sample(crate::now_ms(), &fed.peer_states());
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
