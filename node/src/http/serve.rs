//! The HTTP/1.1 accept loop, plain or HTTPS (rustls): each connection on a
//! task of its own, at most [`MAX_CONNECTIONS`] at once, a TLS handshake
//! and a request head bounded in time; when the node stops, every
//! connection ends gracefully before `serve` returns (so nothing holds
//! the node after it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// Connections served at once; more are closed at accept.
pub(super) const MAX_CONNECTIONS: usize = 256;

/// Serves `app` on `listener` until `stop` turns true, then waits for its
/// connections to end; HTTPS when `tls`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    stop: watch::Receiver<bool>,
) {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut stopping = stop.clone();
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (tcp, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(cause = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stopping) => break,
        };
        while conns.try_join_next().is_some() {}
        if conns.len() >= MAX_CONNECTIONS {
            tracing::warn!(peer_addr = %addr, limit = MAX_CONNECTIONS, "http connection refused: too many open");
            continue;
        }
        conns.spawn(accepted(tcp, addr, tls.clone(), app.clone(), stop.clone()));
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// One accepted connection: the TLS handshake (bounded, and dropped when
/// the node stops), then the requests.
async fn accepted(
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let Some(acceptor) = tls else {
        return connection(tcp, addr, app, stop).await;
    };
    let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
    tokio::select! {
        r = handshake => match r {
            Ok(Ok(conn)) => connection(conn, addr, app, stop).await,
            Ok(Err(e)) => tracing::debug!(peer_addr = %addr, cause = %e, "https handshake failed"),
            Err(_) => tracing::debug!(peer_addr = %addr, "https handshake timed out"),
        },
        () = stopped(&mut stop) => {}
    }
}

/// Serves one connection; on stop, ends it after the request in progress.
async fn connection<I>(io: I, addr: SocketAddr, app: Router, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = tower::ServiceExt::map_request(app, move |mut req: axum::extract::Request<_>| {
        req.extensions_mut().insert(ConnectInfo(addr));
        req
    });
    let svc = hyper_util::service::TowerToHyperService::new(svc);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(peer_addr = %addr, cause = %e, "http connection ended");
            }
        }
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The HTTPS configuration from `[http] tls_cert` (a PEM chain, leaf
/// first) and `tls_key`: TLS 1.2 and 1.3, HTTP/1.1.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            format!(
                "[http] tls_cert {}: not a PEM certificate chain ({e})",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "[http] tls_cert {} holds no certificate",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "[http] tls_key {}: not a PEM private key ({e})",
            key.display()
        )
    })?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| format!("[http] tls_cert and tls_key do not form a usable pair: {e}"))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
