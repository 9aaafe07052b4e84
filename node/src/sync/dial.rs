//! Dialling a peer: mutual TLS over TCP, counting the bytes on the wire
//! (TCP payload, so TLS records and HTTP/2 framing included) in the
//! federation state's [`WireCount`] for that peer. Each connection is
//! dialled by one side, so the sum over nodes of what they dialled counts
//! every byte once.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::{Channel, Endpoint, Uri};
use wildnet_proto::v1::federation_client::FederationClient;

use crate::federation::{Federation, WireCount};

/// A stream that adds what passes through it to a [`WireCount`].
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    count: Arc<WireCount>,
}

impl<S> Counted<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, count: Arc<WireCount>) -> Counted<S> {
        Counted { inner, count }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        self.count.received.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.count.sent.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r {
            self.count.sent.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Dials `agency` at `address` with mutual TLS.
pub async fn dial(
    fed: &Federation,
    agency: &str,
    address: &str,
) -> Result<FederationClient<Channel>, String> {
    let cfg = fed.client_config(agency)?;
    let addr = tokio::net::lookup_host(address)
        .await
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to nothing"))?;
    let host = address.rsplit_once(':').map(|(h, _)| h).unwrap_or(address);
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let name = rustls::pki_types::ServerName::try_from(host)
        .map_err(|e| format!("bad server name in {address}: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(cfg);
    let count = fed.wire_count(agency);
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let (connector, name, count) = (connector.clone(), name.clone(), count.clone());
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                tcp.set_nodelay(true)?;
                let tcp = Counted::new(tcp, count);
                let tls = connector.connect(name, tcp).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
        .map_err(|e| crate::error_chain(&e))?;
    Ok(FederationClient::new(channel))
}

/// A failed link's cause with what to do about it, for `wildnet peers`:
/// the cause as the transport gave it, then the likely fix.
pub fn advise(agency: &str, address: &str, cause: &str) -> String {
    let fix = if cause.contains("Connection refused") {
        format!(
            "nothing listens at {address}: is {agency}'s node running, with [federation] listen = {address}? \
             The link retries by itself"
        )
    } else if cause.contains("timed out") || cause.contains("deadline has elapsed") {
        format!(
            "no answer from {address}: a firewall in between, or a wrong address for {agency} in the manifest \
             (`wildnet manifest`)"
        )
    } else if cause.contains("cannot resolve") || cause.contains("resolves to nothing") {
        format!("check {agency}'s address in the manifest (`wildnet manifest`)")
    } else if cause.contains("invalid peer certificate") {
        format!(
            "{agency}'s certificate is not one this federation's CA issued, or it expired: \
             compare `wildnet manifest` on both nodes; the secretariat can re-admit with `--rotate`"
        )
    } else if cause.contains("received fatal alert") {
        format!(
            "{agency} refused this node's certificate: it may hold an older manifest that does not \
             admit this agency yet (compare `wildnet manifest` on both nodes)"
        )
    } else {
        return cause.to_string();
    };
    format!("{cause} — {fix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn counts_both_directions() {
        let (a, mut b) = tokio::io::duplex(64);
        let count = Arc::new(WireCount::default());
        let mut a = Counted::new(a, count.clone());
        a.write_all(b"hello").await.expect("write");
        let mut got = [0u8; 5];
        b.read_exact(&mut got).await.expect("read");
        b.write_all(b"hi").await.expect("write back");
        let mut back = [0u8; 2];
        a.read_exact(&mut back).await.expect("read back");
        assert_eq!(count.sent.load(Ordering::Relaxed), 5);
        assert_eq!(count.received.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn advice_names_the_fix() {
        let refused = advise(
            "ZA-DFFE",
            "127.0.0.1:7302",
            "transport error: Connection refused (os error 111)",
        );
        assert!(refused.starts_with("transport error: Connection refused"));
        assert!(refused.contains("is ZA-DFFE's node running"), "{refused}");
        let tls = advise("ZA-DFFE", "a:1", "invalid peer certificate: UnknownIssuer");
        assert!(tls.contains("not one this federation's CA issued"), "{tls}");
        let alert = advise("ZA-DFFE", "a:1", "received fatal alert: UnknownCA");
        assert!(
            alert.contains("ZA-DFFE refused this node's certificate"),
            "{alert}"
        );
        assert_eq!(advise("ZA-DFFE", "a:1", "revoked at 5"), "revoked at 5");
    }
}
