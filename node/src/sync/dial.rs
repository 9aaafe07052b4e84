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
        .map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                let text = s.to_string();
                if !msg.contains(&text) {
                    msg = format!("{msg}: {text}");
                }
                src = s.source();
            }
            msg
        })?;
    Ok(FederationClient::new(channel))
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
}
