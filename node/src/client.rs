//! Connecting to a node's Agency service: `unix:PATH`, `http://HOST:PORT`,
//! or an agency dir holding `node.toml` (its socket is used).

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};
use wildnet_proto::v1::agency_client::AgencyClient;

/// Where a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Unix socket path.
    Unix(PathBuf),
    /// An agency dir's node: its socket, and the config that starts it.
    Dir {
        /// `[node] socket` of the config.
        socket: PathBuf,
        /// The node.toml.
        config: PathBuf,
    },
    /// An http:// URL.
    Http(String),
}

/// Why a node cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The --node value is unusable.
    #[error("{0}")]
    Target(String),
    /// The connection failed.
    #[error("cannot reach the node at {target}: {cause}. {fix}")]
    Connect {
        /// Where.
        target: String,
        /// Why.
        cause: String,
        /// What to do.
        fix: String,
    },
}

impl Target {
    /// Parses `unix:PATH`, `http://…`, or a directory with `node.toml`.
    pub fn parse(spec: &str) -> Result<Target, ConnectError> {
        if let Some(p) = spec.strip_prefix("unix:") {
            return Ok(Target::Unix(PathBuf::from(p)));
        }
        if spec.starts_with("http://") || spec.starts_with("https://") {
            return Ok(Target::Http(spec.to_string()));
        }
        let dir = Path::new(spec);
        let cfg = if dir.is_file() {
            dir.to_path_buf()
        } else {
            dir.join(crate::layout::CONFIG_FILE)
        };
        if !cfg.exists() {
            return Err(ConnectError::Target(format!(
                "{} not found: pass --node DIR (an agency dir made by `wildnet init`), --node unix:PATH or --node http://HOST:PORT, or set WILDNET_NODE",
                cfg.display()
            )));
        }
        let settings =
            crate::config::Settings::load(&cfg).map_err(|e| ConnectError::Target(e.to_string()))?;
        Ok(Target::Dir {
            socket: settings.socket,
            config: cfg,
        })
    }

    /// Connects, with a connect timeout so a dead node fails fast.
    pub async fn connect(&self) -> Result<AgencyClient<Channel>, ConnectError> {
        Ok(AgencyClient::new(self.channel().await?)
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024))
    }

    /// A channel to the node, for any of its services (Agency, health,
    /// reflection).
    pub async fn channel(&self) -> Result<Channel, ConnectError> {
        let fail = |e: &(dyn std::error::Error + 'static)| {
            let cause = crate::error_chain(e);
            ConnectError::Connect {
                target: self.to_string(),
                fix: self.fix(io_kind(e)),
                cause,
            }
        };
        let channel = match self {
            Target::Http(url) => Endpoint::from_shared(url.clone())
                .map_err(|e| fail(&e))?
                .connect_timeout(Duration::from_secs(5))
                .connect()
                .await
                .map_err(|e| fail(&e))?,
            Target::Unix(path) | Target::Dir { socket: path, .. } => {
                if !path.exists() {
                    return Err(ConnectError::Connect {
                        target: self.to_string(),
                        cause: format!("socket {} does not exist", path.display()),
                        fix: self.start_hint(),
                    });
                }
                let path = path.clone();
                Endpoint::try_from("http://localhost")
                    .map_err(|e| fail(&e))?
                    .connect_timeout(Duration::from_secs(5))
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let path = path.clone();
                        async move {
                            let stream = tokio::net::UnixStream::connect(path).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(stream))
                        }
                    }))
                    .await
                    .map_err(|e| fail(&e))?
            }
        };
        Ok(channel)
    }

    /// How to start the node this target names.
    fn start_hint(&self) -> String {
        match self {
            Target::Dir { config, .. } => format!(
                "Is wildnet-node running? Start it with `wildnet-node --config {}`",
                config.display()
            ),
            _ => "Is wildnet-node running (`wildnet-node --config DIR/node.toml`), and is this its address?"
                .to_string(),
        }
    }

    /// What to do about a failed connection, from its I/O cause.
    fn fix(&self, kind: Option<std::io::ErrorKind>) -> String {
        use std::io::ErrorKind;
        let unix = !matches!(self, Target::Http(_));
        match kind {
            Some(ErrorKind::PermissionDenied) => {
                "The socket is the node's user's: run wildnet as that user (or one in its group)."
                    .to_string()
            }
            Some(ErrorKind::ConnectionRefused) if unix => format!(
                "The socket is left over from a node that stopped. {}",
                self.start_hint()
            ),
            _ => self.start_hint(),
        }
    }
}

/// The kind of the first I/O error among `e` and its sources.
fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Unix(p) | Target::Dir { socket: p, .. } => write!(f, "unix:{}", p.display()),
            Target::Http(u) => f.write_str(u),
        }
    }
}
