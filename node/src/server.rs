//! Runs a node: opens it, binds the Agency service on the Unix socket
//! (mode 0600) and optionally TCP, with gRPC health and reflection (v1 and
//! v1alpha) on every listener, purges expired records periodically,
//! checks newly stored records for alerts, and
//! stops gracefully when `shutdown` resolves.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use wildnet_proto::v1::agency_server::AgencyServer;
use wildnet_proto::v1::federation_server::FederationServer;

use crate::api::agency::AgencyService;
use crate::api::federation::FederationService;
use crate::api::gate::ApiLimit;
use crate::config::Settings;
use crate::node::Node;

/// File in the data dir holding the bound TCP address, when TCP is on.
pub const TCP_ADDR_FILE: &str = "api.addr";

/// File in the data dir holding the bound Federation address.
pub const FEDERATION_ADDR_FILE: &str = "federation.addr";

/// Listeners bound by the caller (tests bind port 0 and read it back).
#[derive(Debug, Default)]
pub struct Listeners {
    /// The Federation listener; bound from `[federation] listen` when None.
    pub federation: Option<tokio::net::TcpListener>,
}

/// Runs the node until `shutdown` resolves, then drains and flushes.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    run_with(settings, Listeners::default(), shutdown).await
}

/// [`run`] with listeners bound by the caller.
pub async fn run_with(
    settings: Settings,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let node = Node::open(&settings).with_context(|| {
        format!(
            "cannot open the node of {} in {}",
            settings.agency,
            settings.data_dir.display()
        )
    })?;
    let mut up = Running::new();
    serve_http(&node, &settings, &mut up).await?;
    // One allowance for the Agency API on every listener it is served on.
    let api_slots = Arc::new(tokio::sync::Semaphore::new(settings.api_requests));
    serve_tcp(&node, &settings, &api_slots, &mut up).await?;
    serve_federation(&node, &settings, listeners.federation, &mut up).await?;
    // The socket is bound last: once it accepts, the node is fully up.
    let uds = bind_socket(&settings.socket)?;
    tracing::info!(agency = %settings.agency, socket = %settings.socket.display(), records = node.store().len(), "agency api listening");
    let router = router(&node, &settings, &api_slots).await?;
    up.spawn("unix socket server", move |stop| {
        router.serve_with_incoming_shutdown(UnixListenerStream::new(uds), stop)
    });
    up.ready.set(true);
    up.tasks.push(tokio::spawn(purge_loop(
        node.clone(),
        settings.purge_interval_secs,
    )));
    // The alert check and the filter build read and compute in long
    // synchronous stretches: on a thread of their own, they never hold up
    // the runtime that serves the API and the peers.
    let background = up.background()?;
    up.tasks.push(background.spawn(alert_loop(node.clone())));
    up.tasks.push(background.spawn(filter_loop(node.clone())));

    tokio::select! {
        () = shutdown => tracing::info!("shutting down"),
        Some(r) = up.servers.join_next() => {
            tracing::error!("a listener stopped unexpectedly");
            r.context("listener task panicked")??;
        }
    }
    up.stop(node, &settings).await;
    tracing::info!("stopped");
    Ok(())
}

/// What a running node has started: its servers, the tasks beside them,
/// and the signal that stops them.
struct Running {
    stop: watch::Sender<bool>,
    servers: tokio::task::JoinSet<anyhow::Result<()>>,
    /// Purge loop, peer links, the federation acceptor: aborted at the end.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Ends the background thread's runtime (dropped at the end).
    background: Option<tokio::sync::oneshot::Sender<()>>,
    /// What `/readyz` reports: every listener bound, not stopping.
    ready: crate::http::Ready,
}

impl Running {
    fn new() -> Running {
        Running {
            stop: watch::channel(false).0,
            servers: tokio::task::JoinSet::new(),
            tasks: Vec::new(),
            background: None,
            ready: crate::http::Ready::default(),
        }
    }

    /// A runtime on a thread of its own (`wildnet-background`) for work
    /// over stored records; it ends when the node stops.
    fn background(&mut self) -> anyhow::Result<tokio::runtime::Handle> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the background runtime")?;
        let handle = rt.handle().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("wildnet-background".into())
            .spawn(move || {
                let _ = rt.block_on(rx);
            })
            .context("cannot start the background thread")?;
        self.background = Some(tx);
        Ok(handle)
    }

    /// Runs a server until the stop signal.
    fn spawn<F, Fut>(&mut self, what: &'static str, serve: F)
    where
        F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
    {
        let mut rx = self.stop.subscribe();
        let stop = Box::pin(async move {
            let _ = rx.wait_for(|s| *s).await;
        });
        let served = serve(stop);
        self.servers
            .spawn(async move { served.await.with_context(|| format!("{what} failed")) });
    }

    /// Stops the servers, then the tasks, removes the address files and
    /// the socket, closes the store, and waits (briefly) until nothing
    /// else holds the node, so the database is released when this returns
    /// (an in-process restart opens it again at once).
    async fn stop(mut self, node: Arc<Node>, settings: &Settings) {
        self.ready.set(false);
        node.close();
        if let Some(f) = node.federation() {
            f.close();
        }
        let _ = self.stop.send(true);
        while let Some(r) = self.servers.join_next().await {
            if let Err(e) = r.context("listener task panicked").and_then(|r| r) {
                tracing::error!(cause = %format!("{e:#}"), "listener stopped with an error");
            }
        }
        // The federation port is free once this returns (a restart rebinds it).
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
        drop(self.background.take());
        let _ = std::fs::remove_file(settings.data_dir.join(FEDERATION_ADDR_FILE));
        let _ = std::fs::remove_file(&settings.socket);
        let _ = std::fs::remove_file(settings.data_dir.join(TCP_ADDR_FILE));
        let _ = std::fs::remove_file(settings.data_dir.join(crate::http::HTTP_ADDR_FILE));
        node.store().close();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&node) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The Agency service on `[api] tcp`, when set.
async fn serve_tcp(
    node: &Arc<Node>,
    settings: &Settings,
    api_slots: &Arc<tokio::sync::Semaphore>,
    up: &mut Running,
) -> anyhow::Result<()> {
    let Some(addr) = settings.tcp else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on [api] tcp = {addr}: is another process using it?")
    })?;
    let local = listener.local_addr()?;
    let addr_file = settings.data_dir.join(TCP_ADDR_FILE);
    std::fs::write(&addr_file, local.to_string())
        .with_context(|| format!("cannot write {}", addr_file.display()))?;
    tracing::info!(addr = %local, "agency api listening on tcp");
    let router = router(node, settings, api_slots).await?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    up.spawn("tcp server", move |stop| {
        router.serve_with_incoming_shutdown(incoming, stop)
    });
    Ok(())
}

/// The HTTP listener (`[http]`), when on.
async fn serve_http(node: &Arc<Node>, settings: &Settings, up: &mut Running) -> anyhow::Result<()> {
    let Some(h) = &settings.http else {
        return Ok(());
    };
    let tasks = crate::http::start(node, h, &settings.data_dir, &up.ready, &up.stop)
        .await
        .map_err(anyhow::Error::msg)?;
    // Awaited when the node stops, like the other listeners: their
    // connections hold the node until they end.
    for t in tasks {
        up.servers
            .spawn(async move { t.await.context("http task panicked") });
    }
    Ok(())
}

/// The Federation service (mutual TLS) and the peer links, when federated.
async fn serve_federation(
    node: &Arc<Node>,
    settings: &Settings,
    listener: Option<tokio::net::TcpListener>,
    up: &mut Running,
) -> anyhow::Result<()> {
    let (Some(fed), Some(fs)) = (node.federation(), &settings.federation) else {
        return Ok(());
    };
    // Before any peer pulls: a widened [federation.share] policy bumps
    // that peer's epoch so it re-pulls.
    node.refresh_policy_epochs()
        .await
        .context("cannot record the sharing policy epochs")?;
    let listener = match listener {
        Some(l) => l,
        None => tokio::net::TcpListener::bind(fs.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on [federation] listen = {}: is another process using it?",
                    fs.listen
                )
            })?,
    };
    let local = listener.local_addr()?;
    let addr_file = settings.data_dir.join(FEDERATION_ADDR_FILE);
    std::fs::write(&addr_file, local.to_string())
        .with_context(|| format!("cannot write {}", addr_file.display()))?;
    let tls = fed.server_config().map_err(anyhow::Error::msg)?;
    let (incoming, acceptor) = federation_incoming(listener, tls, node.clone());
    up.tasks.push(acceptor);
    let service = FederationService::new(node.clone(), settings.peer_limits);
    // A peer's connection carries at most its allowance, plus room for
    // the refusals that tell it so.
    let l = settings.peer_limits;
    let streams = u32::try_from(2 * (l.requests + l.streams)).unwrap_or(u32::MAX);
    let router = base_router::<FederationServer<FederationService>>(Some(streams))
        .await?
        .add_service(
            FederationServer::new(service)
                .max_decoding_message_size(settings.max_message_bytes)
                .max_encoding_message_size(settings.max_message_bytes),
        );
    tracing::info!(addr = %local, manifest = fed.current().version(), "federation listening (mutual TLS 1.3)");
    up.spawn("federation server", move |stop| {
        router.serve_with_incoming_shutdown(incoming, stop)
    });
    let links = crate::sync::links::run(node.clone(), up.stop.subscribe());
    up.tasks.push(tokio::spawn(links));
    Ok(())
}

/// A router serving gRPC health (reporting `S` as serving) and reflection
/// v1 and v1alpha over every wildnet and health descriptor: what every
/// listener offers besides its own service. `streams` caps the HTTP/2
/// streams of one connection (None: hyper's default).
async fn base_router<S: tonic::server::NamedService>(
    streams: Option<u32>,
) -> anyhow::Result<tonic::transport::server::Router> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<S>().await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(wildnet_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let v1 = reflection()
        .build_v1()
        .context("cannot build the reflection service")?;
    let v1alpha = reflection()
        .build_v1alpha()
        .context("cannot build the reflection service")?;
    Ok(Server::builder()
        .max_concurrent_streams(streams)
        .add_service(health)
        .add_service(v1)
        .add_service(v1alpha))
}

/// The Agency service with health and reflection.
async fn router(
    node: &Arc<Node>,
    settings: &Settings,
    api_slots: &Arc<tokio::sync::Semaphore>,
) -> anyhow::Result<tonic::transport::server::Router> {
    let agency = AgencyServer::new(AgencyService::new(node.clone()))
        .max_decoding_message_size(settings.max_message_bytes)
        .max_encoding_message_size(settings.max_message_bytes);
    let refused = node
        .store()
        .telemetry()
        .limit_refusals
        .get_or_create(&crate::telemetry::label("setting", "limits.api_requests"))
        .clone();
    let agency = ApiLimit::new(agency, api_slots.clone(), settings.api_requests, refused);
    Ok(base_router::<AgencyServer<AgencyService>>(None)
        .await?
        .add_service(agency))
}

type TlsConn = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

/// Accepts TCP connections and completes mutual-TLS handshakes off the
/// accept loop (a slow or hostile client cannot stall others). A refused
/// handshake is logged and audited with its reason, and never reaches the
/// gRPC layer.
fn federation_incoming(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    node: Arc<Node>,
) -> (
    ReceiverStream<Result<TlsConn, std::io::Error>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let task = tokio::spawn(async move {
        loop {
            let (tcp, addr) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(cause = %e, "federation accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = tx.closed() => return,
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx, node) = (acceptor.clone(), tx.clone(), node.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(conn)) => {
                        let _ = tx.send(Ok(conn)).await;
                    }
                    Ok(Err(e)) => {
                        count_tls_refusal(&node, crate::membership::tls::refusal_reason(&e));
                        tracing::warn!(peer_addr = %addr, cause = %e, "federation connection refused at TLS handshake");
                        node.audit_nowait(&format!("tcp:{addr}"), "tls-refused", e.to_string());
                    }
                    Err(_) => {
                        count_tls_refusal(&node, "timeout");
                        tracing::warn!(peer_addr = %addr, "federation TLS handshake timed out")
                    }
                }
            });
        }
    });
    (ReceiverStream::new(rx), task)
}

fn count_tls_refusal(node: &Node, reason: &str) {
    crate::telemetry::Telemetry::inc(
        &node.store().telemetry().tls_refusals,
        crate::telemetry::label("reason", reason),
    );
}

/// Binds the Unix socket with mode 0600, replacing a stale socket file but
/// refusing to steal one a live node is serving.
fn bind_socket(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "another node is already serving {}: stop it first (or use another data_dir)",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(path).with_context(|| {
        format!(
            "cannot bind the agency socket {} (paths are limited to ~100 bytes)",
            path.display()
        )
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set mode 0600 on {}", path.display()))?;
    Ok(listener)
}

/// Waits for the feed head to move, then until it has been still for
/// `idle` (or `most` has passed since it first moved): background work
/// over new records runs between bursts of ingest, not against them.
/// False once the store is gone.
async fn after_ingest(
    head: &mut tokio::sync::watch::Receiver<u64>,
    idle: Duration,
    most: Duration,
) -> bool {
    if head.changed().await.is_err() {
        return false;
    }
    let until = tokio::time::Instant::now() + most;
    loop {
        let quiet = tokio::time::sleep(idle);
        tokio::select! {
            r = head.changed() => if r.is_err() { return false },
            () = quiet => return true,
        }
        if tokio::time::Instant::now() >= until {
            return true;
        }
    }
}

/// Checks newly stored records for alerts: within 2 s of a record, sooner
/// when ingest pauses.
async fn alert_loop(node: Arc<Node>) {
    let mut head = node.store().head_watch();
    loop {
        if let Err(e) = node.check_alerts().await {
            tracing::error!(cause = %e, "alert check failed; it retries at the next record");
        }
        if !after_ingest(
            &mut head,
            Duration::from_millis(100),
            Duration::from_secs(2),
        )
        .await
        {
            return;
        }
    }
}

/// Keeps the deconfliction filter up to the feed head in the quiet between
/// bursts of ingest (at least every 30 s); a peer fetching the filter
/// brings it up to date first anyway.
async fn filter_loop(node: Arc<Node>) {
    let mut head = node.store().head_watch();
    loop {
        if let Err(e) = node.update_filter().await {
            tracing::error!(cause = %e, "deconfliction filter update failed; it retries at the next record");
        }
        if !after_ingest(&mut head, Duration::from_secs(1), Duration::from_secs(30)).await {
            return;
        }
    }
}

async fn purge_loop(node: Arc<Node>, every_secs: u64) {
    let mut tick = tokio::time::interval(Duration::from_secs(every_secs));
    loop {
        tick.tick().await;
        match node.store().purge_expired(crate::now_ms()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(purged = n, "expired records purged");
                // Ours may be among them: their values must leave the filter.
                if let Err(e) = node.filter_dirty().await {
                    tracing::error!(cause = %e, "cannot mark the deconfliction filter for a rebuild");
                }
            }
            Err(e) => tracing::error!(cause = %e, "purge failed"),
        }
    }
}
