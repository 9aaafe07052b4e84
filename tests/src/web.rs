//! A small HTTP/1.1 client for the node's HTTP listener: one GET per
//! connection, plain or over TLS (rustls, trusting one CA), with an
//! optional Basic login; and the tools around it (Chromium, the Python
//! Prometheus parser).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// An answer.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `Authorization: Basic` of `user:password`.
fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    (method, path, host): (&str, &str, &str),
    login: Option<(&str, &str)>,
) -> anyhow::Result<Reply> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some((u, p)) = login {
        req.push_str(&format!("Authorization: Basic {}\r\n", basic(u, p)));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify after the body: keep
    // what was read.
    let _ = s.read_to_end(&mut raw).await;
    parse(&raw)
}

fn parse(raw: &[u8]) -> anyhow::Result<Reply> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("no HTTP head in {text:?}"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no status line in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `GET path` over plain HTTP.
pub async fn get(addr: SocketAddr, path: &str, login: Option<(&str, &str)>) -> Reply {
    request(addr, "GET", path, login).await
}

/// `method path` over plain HTTP, for `Host: <addr>`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    login: Option<(&str, &str)>,
) -> Reply {
    request_for(addr, &addr.to_string(), method, path, login).await
}

/// `method path` over plain HTTP to `addr`, naming `host` in `Host`.
pub async fn request_for(
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    login: Option<(&str, &str)>,
) -> Reply {
    let s = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    exchange(s, (method, path, host), login)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// `GET path` over HTTPS, trusting only `ca_pem`, for server name `name`.
pub async fn get_tls(
    addr: SocketAddr,
    path: &str,
    login: Option<(&str, &str)>,
    ca_pem: &str,
    name: &str,
) -> anyhow::Result<Reply> {
    request_tls(addr, ("GET", path), login, ca_pem, name).await
}

/// `method path` over HTTPS, trusting only `ca_pem`, for server name
/// `name`.
pub async fn request_tls(
    addr: SocketAddr,
    (method, path): (&str, &str),
    login: Option<(&str, &str)>,
    ca_pem: &str,
    name: &str,
) -> anyhow::Result<Reply> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from_pem_slice(
        ca_pem.as_bytes(),
    )?)?;
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let server = rustls::pki_types::ServerName::try_from(name.to_string())?;
    let tls = connector.connect(server, tcp).await?;
    exchange(tls, (method, path, name), login).await
}

/// Where tests leave what people look at afterwards (screenshots):
/// `target/test-artifacts/<what>`.
pub fn artifacts(what: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("test-artifacts").join(what);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Debian's Chromium (`scripts/test.sh` installs it when missing).
pub fn chromium() -> PathBuf {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "Chromium is not installed: scripts/test.sh installs it (apt-get install chromium), \
         or install it yourself"
    )
}

/// Headless Chromium with a fresh profile and no background traffic
/// (scripts stay on: `--dump-dom` needs them; the pages carry none, and
/// their Content-Security-Policy forbids any);
/// `args` says what to do (`--dump-dom`, `--screenshot=…`) and to which
/// URL. Returns stdout.
pub fn run_chromium(profile: &Path, args: &[String]) -> String {
    let child = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run chromium");
    let (status, stdout, stderr) = within(child, std::time::Duration::from_secs(120));
    assert!(status.success(), "chromium failed ({args:?}): {stderr}");
    stdout
}

/// Waits for `child` at most `limit` (then kills it and fails), reading
/// its output meanwhile.
fn within(
    mut child: std::process::Child,
    limit: std::time::Duration,
) -> (std::process::ExitStatus, String, String) {
    use std::io::Read;
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wildnet_testbed::wait::until_blocking("chromium to finish", limit, || {
        child.try_wait().ok().flatten()
    })
    .unwrap_or_else(|e| {
        let _ = child.kill();
        panic!("{e}")
    });
    (
        status,
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}
