//! `node.toml`: parsed with serde (unknown keys are errors, so a mistyped
//! key stops the node), then validated into [`Settings`] with paths
//! resolved against the config file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::record::{AgencyId, Limits};

pub use limits::{LimitsSection, PeerLimits};

mod edit;
mod http;
mod joint;
mod limits;
mod template;
pub use edit::NodeToml;
pub use http::{HttpSection, HttpSettings};
pub use joint::{
    CorrelationSection, CorrelationSettings, DEFAULT_CORRELATION_LIMIT, DeconflictionSection,
    DeconflictionSettings,
};
pub use template::default_toml;

/// sled's page cache by default, MiB (`[storage] cache_mb`).
pub const DEFAULT_CACHE_MB: u64 = 64;

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who this node is.
    pub agency: AgencySection,
    /// Where data lives.
    #[serde(default)]
    pub storage: StorageSection,
    /// Local API listeners.
    #[serde(default)]
    pub api: ApiSection,
    /// The HTTP listener: metrics, health, the dashboard.
    #[serde(default)]
    pub http: HttpSection,
    /// Size limits.
    #[serde(default)]
    pub limits: LimitsSection,
    /// Correlation between records.
    #[serde(default)]
    pub correlation: CorrelationSection,
    /// Answering deconfliction questions.
    #[serde(default)]
    pub deconfliction: DeconflictionSection,
    /// Federation membership (written by `wildnet federation join`).
    pub federation: Option<FederationSection>,
}

/// `[federation]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSection {
    /// Where the Federation service listens (mutual TLS), HOST:PORT.
    pub listen: String,
    /// Federation CA certificate (PEM).
    #[serde(default = "default_fed_ca")]
    pub ca: PathBuf,
    /// This agency's TLS certificate (PEM) from the secretariat.
    #[serde(default = "default_fed_cert")]
    pub cert: PathBuf,
    /// The manifest the node was installed with.
    #[serde(default = "default_fed_manifest")]
    pub manifest: PathBuf,
    /// Agencies to dial; absent: every other agency of the manifest.
    pub peers: Option<Vec<String>>,
    /// Seconds between manifest checks on an idle peer link.
    #[serde(default = "default_hello")]
    pub hello_interval_secs: u64,
    /// Seconds between completeness checks (reconciliation) with each
    /// peer; 0 for on demand only.
    #[serde(default = "default_verify")]
    pub verify_interval_secs: u64,
    /// Sharing policy per peer agency id; the key `default` applies to
    /// peers not listed.
    #[serde(default)]
    pub share: std::collections::BTreeMap<String, ShareSection>,
}

impl FederationSection {
    /// Validated, with paths resolved by `resolve`.
    fn settings(&self, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<FederationSettings, String> {
        let default_share = match self.share.get("default") {
            Some(d) => d.policy(&crate::policy::PeerPolicy::default(), "default")?,
            None => crate::policy::PeerPolicy::default(),
        };
        let mut share = std::collections::HashMap::new();
        for (id, sec) in self.share.iter().filter(|(k, _)| k.as_str() != "default") {
            id.parse::<AgencyId>()
                .map_err(|e| format!("[federation.share.{id}]: {e}"))?;
            share.insert(id.clone(), sec.policy(&default_share, id)?);
        }
        let listen = self.listen.parse().map_err(|e| {
            format!(
                "[federation] listen = {:?} is not IP:PORT ({e}), e.g. \"127.0.0.1:7701\"",
                self.listen
            )
        })?;
        Ok(FederationSettings {
            share,
            default_share,
            listen,
            ca: resolve(&self.ca),
            cert: resolve(&self.cert),
            manifest: resolve(&self.manifest),
            peers: self.peers.clone(),
            hello_interval_secs: self.hello_interval_secs.max(1),
            verify_interval_secs: self.verify_interval_secs,
        })
    }
}

/// `[federation.share.<ID>]`: what this node sends to one peer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareSection {
    /// Highest TLP sent: clear, green, amber, amber-strict or red.
    pub max_tlp: Option<String>,
    /// Kinds sent; absent: all.
    pub kinds: Option<Vec<String>>,
    /// Relay records authored by other agencies.
    pub relay: Option<bool>,
}

fn parse_tlp(s: &str) -> Option<wildnet_proto::v1::Tlp> {
    use wildnet_proto::v1::Tlp;
    Some(match s.trim().to_lowercase().replace('_', "-").as_str() {
        "clear" | "white" => Tlp::Clear,
        "green" => Tlp::Green,
        "amber" => Tlp::Amber,
        "amber-strict" | "amber+strict" => Tlp::AmberStrict,
        "red" => Tlp::Red,
        _ => return None,
    })
}

impl ShareSection {
    fn policy(
        &self,
        base: &crate::policy::PeerPolicy,
        key: &str,
    ) -> Result<crate::policy::PeerPolicy, String> {
        let mut p = base.clone();
        if let Some(t) = &self.max_tlp {
            p.max_tlp = parse_tlp(t).ok_or_else(|| {
                format!("[federation.share.{key}] max_tlp = {t:?} must be clear, green, amber, amber-strict or red")
            })?;
        }
        if let Some(k) = &self.kinds {
            for kind in k {
                if !crate::record::KINDS.contains(&kind.as_str()) {
                    return Err(format!(
                        "[federation.share.{key}] kinds: unknown kind {kind:?} (use {})",
                        crate::record::KINDS.join(", ")
                    ));
                }
            }
            p.kinds = Some(k.clone());
        }
        if let Some(r) = self.relay {
            p.relay = r;
        }
        Ok(p)
    }
}

fn default_fed_ca() -> PathBuf {
    crate::layout::JOINED_CA_FILE.into()
}
fn default_fed_cert() -> PathBuf {
    crate::layout::JOINED_CERT_FILE.into()
}
fn default_fed_manifest() -> PathBuf {
    crate::layout::JOINED_MANIFEST_FILE.into()
}
fn default_hello() -> u64 {
    30
}

fn default_verify() -> u64 {
    3600
}

/// `[agency]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencySection {
    /// Agency id, e.g. `KE-KWS`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Ed25519 record-signing key (PKCS#8 PEM).
    #[serde(default = "default_signing_key")]
    pub signing_key: PathBuf,
    /// ECDSA P-256 TLS key (PKCS#8 PEM), used once the node federates.
    #[serde(default = "default_tls_key")]
    pub tls_key: PathBuf,
}

fn default_signing_key() -> PathBuf {
    crate::layout::SIGNING_KEY_FILE.into()
}
fn default_tls_key() -> PathBuf {
    crate::layout::TLS_KEY_FILE.into()
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// Data directory (database and Unix socket).
    pub data_dir: PathBuf,
    /// How often expired records are purged, in seconds.
    pub purge_interval_secs: u64,
    /// sled's page cache, MiB: more is faster under write load, less keeps
    /// the node's memory down.
    pub cache_mb: u64,
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            data_dir: crate::layout::DATA_DIR.into(),
            purge_interval_secs: 60,
            cache_mb: DEFAULT_CACHE_MB,
        }
    }
}

/// `[api]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    /// Optional TCP address for the Agency service (plaintext gRPC: bind it
    /// to loopback or a trusted network only).
    pub tcp: Option<String>,
}

/// Validated runtime settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Agency id.
    pub agency: AgencyId,
    /// Display name.
    pub name: String,
    /// Resolved signing key path.
    pub signing_key: PathBuf,
    /// Resolved TLS key path.
    pub tls_key: PathBuf,
    /// Resolved data directory.
    pub data_dir: PathBuf,
    /// The Unix socket path, `<data_dir>/wildnet.sock`.
    pub socket: PathBuf,
    /// Optional TCP listen address.
    pub tcp: Option<SocketAddr>,
    /// The HTTP listener, when on.
    pub http: Option<HttpSettings>,
    /// Record limits.
    pub limits: Limits,
    /// gRPC message limit.
    pub max_message_bytes: usize,
    /// Each peer's allowance of calls and streams.
    pub peer_limits: PeerLimits,
    /// Agency API requests in progress at once.
    pub api_requests: usize,
    /// Purge period in seconds.
    pub purge_interval_secs: u64,
    /// sled's page cache, bytes.
    pub cache_bytes: u64,
    /// Correlation limit and warninglists.
    pub correlation: CorrelationSettings,
    /// Deconfliction key, scope and rate limit.
    pub deconfliction: DeconflictionSettings,
    /// Federation membership, when the agency has joined one.
    pub federation: Option<FederationSettings>,
}

/// `[federation]` settings, paths resolved.
#[derive(Debug, Clone)]
pub struct FederationSettings {
    /// Where the Federation service listens.
    pub listen: SocketAddr,
    /// The federation CA certificate (PEM).
    pub ca: PathBuf,
    /// This agency's TLS certificate (PEM), issued by the CA.
    pub cert: PathBuf,
    /// The manifest the node was installed with.
    pub manifest: PathBuf,
    /// Which agencies to dial; None: every other agency of the manifest.
    pub peers: Option<Vec<String>>,
    /// How often an idle peer link re-checks (manifest versions), seconds.
    pub hello_interval_secs: u64,
    /// Sharing policy per peer.
    pub share: std::collections::HashMap<String, crate::policy::PeerPolicy>,
    /// Sharing policy for peers not listed in `share`.
    pub default_share: crate::policy::PeerPolicy,
    /// How often each peer link runs the completeness check, seconds
    /// (0: only on demand, `wildnet sync --verify`).
    pub verify_interval_secs: u64,
}

/// Why a config is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not valid TOML / unknown key / wrong type.
    #[error("{path} is not a valid wildnet config: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde said, with line and column.
        message: String,
    },
    /// A value is wrong.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl Settings {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Settings::from_config(cfg, base).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Validates a parsed config; relative paths are taken from `base`.
    pub fn from_config(cfg: Config, base: &Path) -> Result<Settings, String> {
        let agency: AgencyId = cfg
            .agency
            .id
            .parse()
            .map_err(|e| format!("[agency] id: {e}"))?;
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let tcp = match &cfg.api.tcp {
            None => None,
            Some(a) if a.trim().is_empty() => None,
            Some(a) => Some(a.parse::<SocketAddr>().map_err(|e| {
                format!("[api] tcp = {a:?} is not HOST:PORT with an IP address ({e}), e.g. \"127.0.0.1:7401\"")
            })?),
        };
        cfg.limits.check()?;
        let http = cfg.http.settings(&resolve)?;
        let data_dir = resolve(&cfg.storage.data_dir);
        let federation = cfg
            .federation
            .as_ref()
            .map(|f| f.settings(&resolve))
            .transpose()?;
        let correlation = cfg.correlation.settings(&resolve)?;
        let deconfliction = cfg.deconfliction.settings(&resolve)?;
        Ok(Settings {
            deconfliction,
            federation,
            correlation,
            agency,
            name: cfg.agency.name,
            signing_key: resolve(&cfg.agency.signing_key),
            tls_key: resolve(&cfg.agency.tls_key),
            socket: data_dir.join(crate::layout::SOCKET_NAME),
            data_dir,
            tcp,
            http,
            limits: Limits {
                max_body_bytes: cfg.limits.max_body_bytes,
                max_clock_skew_ms: cfg.limits.clock_skew_secs as i64 * 1000,
            },
            max_message_bytes: cfg.limits.max_message_bytes,
            peer_limits: PeerLimits {
                requests: cfg.limits.peer_requests,
                streams: cfg.limits.peer_streams,
            },
            api_requests: cfg.limits.api_requests,
            purge_interval_secs: cfg.storage.purge_interval_secs.max(1),
            cache_bytes: cfg.storage.cache_mb.clamp(1, 1 << 20) << 20,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated config parses and resolves paths against its directory.
    #[test]
    fn default_config_round_trip() {
        let id: AgencyId = "KE-KWS".parse().expect("id");
        let cfg: Config = toml::from_str(&default_toml(&id, "Kenya \"KWS\"")).expect("parses");
        let s = Settings::from_config(cfg, Path::new("/srv/ke")).expect("valid");
        assert_eq!(s.agency.as_str(), "KE-KWS");
        assert_eq!(s.name, "Kenya \"KWS\"");
        assert_eq!(s.socket, Path::new("/srv/ke/data/wildnet.sock"));
        assert_eq!(s.signing_key, Path::new("/srv/ke/keys/signing.key.pem"));
        assert_eq!(s.tcp, None);
    }

    /// The shipped node.example.toml parses and matches what init writes.
    #[test]
    fn example_config_is_valid() {
        let text = include_str!("../../../node.example.toml");
        let cfg: Config = toml::from_str(text).expect("node.example.toml parses");
        Settings::from_config(cfg, Path::new(".")).expect("node.example.toml is valid");
        let id: AgencyId = "KE-KWS".parse().expect("id");
        let generated = default_toml(&id, "Kenya Wildlife Service");
        let strip = |t: &str| {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string()
        };
        assert_eq!(
            strip(text),
            strip(&generated),
            "node.example.toml drifted from default_toml"
        );
    }

    /// A mistyped key or a bad value stops the node with a pointed message.
    #[test]
    fn refuses_bad_configs() {
        let unknown = "[agency]\nid = \"KE-KWS\"\nname = \"x\"\nsigning_kye = \"k\"\n";
        let e = toml::from_str::<Config>(unknown).expect_err("unknown key accepted");
        assert!(e.to_string().contains("signing_kye"), "{e}");
        let bad_tcp = "[agency]\nid = \"KE-KWS\"\nname = \"x\"\n[api]\ntcp = \"localhost\"\n";
        let cfg: Config = toml::from_str(bad_tcp).expect("parses");
        let e = Settings::from_config(cfg, Path::new(".")).expect_err("bad tcp accepted");
        assert!(e.contains("[api] tcp"), "{e}");
        let bad_id = "[agency]\nid = \"kenya\"\nname = \"x\"\n";
        let cfg: Config = toml::from_str(bad_id).expect("parses");
        assert!(Settings::from_config(cfg, Path::new(".")).is_err());
    }
}
