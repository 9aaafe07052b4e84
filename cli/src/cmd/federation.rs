//! `wildnet federation …` (the secretariat's offline commands and the
//! agency's `join`), `wildnet manifest`, `wildnet peers`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use prost::Message;
use serde_json::{Value, json};
use tonic::transport::Channel;
use wildnet_node::membership::manifest::Trusted;
use wildnet_node::secretariat::Secretariat;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, output, time};

/// Flags of `wildnet federation`.
#[derive(Debug, Args)]
pub struct FederationArgs {
    /// What to do
    #[command(subcommand)]
    pub action: FederationAction,
}

/// Federation subcommands.
#[derive(Debug, Subcommand)]
pub enum FederationAction {
    /// Create a federation: CA key and certificate, manifest version 1
    Init {
        /// Federation dir to create
        #[arg(long)]
        dir: PathBuf,
        /// Federation name, e.g. "Wildlife Enforcement Network"
        #[arg(long)]
        name: String,
    },
    /// Admit an agency from its admission request; issues its TLS certificate
    Admit {
        /// Federation dir
        #[arg(long)]
        dir: PathBuf,
        /// The agency's admission-request.pb (from `wildnet init`)
        #[arg(long)]
        request: PathBuf,
        /// HOST:PORT of the agency's Federation service
        #[arg(long)]
        address: String,
        /// Contact point shown to peers
        #[arg(long, default_value = "")]
        contact: String,
        /// Replace the keys of an agency already admitted
        #[arg(long)]
        rotate: bool,
        /// Certificate lifetime in days
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Define or remove a sharing group
    Group {
        /// Federation dir
        #[arg(long)]
        dir: PathBuf,
        /// set NAME ID… or rm NAME
        #[command(subcommand)]
        action: GroupAction,
    },
    /// Revoke an agency, or one of its keys, from a time
    Revoke {
        /// Federation dir
        #[arg(long)]
        dir: PathBuf,
        /// Agency id
        agency: String,
        /// A key: certificate SHA-256 or signing-key fingerprint (8+ hex)
        #[arg(long)]
        key: Option<String>,
        /// From when (YYYY-MM-DD or RFC 3339) [default: now]
        #[arg(long)]
        from: Option<String>,
    },
    /// Print the manifest of a federation dir
    Show {
        /// Federation dir
        #[arg(long)]
        dir: PathBuf,
    },
    /// Install what the secretariat returned into an agency dir
    Join {
        /// Agency dir (with node.toml)
        #[arg(long)]
        dir: PathBuf,
        /// The agency's certificate, e.g. fed/issued/ke-kws.cert.pem
        #[arg(long)]
        cert: PathBuf,
        /// The federation CA certificate, fed/ca.cert.pem
        #[arg(long)]
        ca: PathBuf,
        /// The manifest, fed/manifest.pb
        #[arg(long)]
        manifest: PathBuf,
        /// Listen address [default: the address the manifest lists]
        #[arg(long)]
        listen: Option<String>,
    },
    /// Create a whole local federation for trying things: CA, agencies, certificates, configs
    Quickstart {
        /// Directory to create it in
        #[arg(long)]
        dir: PathBuf,
        /// Agency ids, comma-separated
        #[arg(long, value_delimiter = ',', default_value = "KE-KWS,ZA-DFFE,GB-NWCU")]
        agencies: Vec<String>,
        /// Groups: NAME=ID,ID;NAME=ID…
        #[arg(long, default_value = "")]
        groups: String,
        /// First loopback port; agency i listens on base-port + i
        #[arg(long, default_value_t = 7701)]
        base_port: u16,
    },
}

/// Group subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupAction {
    /// Define a group
    Set {
        /// Group name
        name: String,
        /// Member agency ids
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Remove a group
    Rm {
        /// Group name
        name: String,
    },
}

/// The manifest as JSON.
pub fn manifest_json(t: &Trusted) -> Value {
    let b = t.body();
    json!({
        "federation": b.federation,
        "version": b.version,
        "issued_at": time::rfc3339(b.issued_at),
        "agencies": b.agencies.iter().map(|a| json!({
            "id": a.id, "name": a.name, "country": a.country, "contact": a.contact, "address": a.address,
            "revoked_at": (a.revoked_at != 0).then(|| time::rfc3339(a.revoked_at)),
            "certs": a.certs.iter().map(|c| json!({
                "sha256": c.sha256, "added_at": time::rfc3339(c.added_at),
                "revoked_at": (c.revoked_at != 0).then(|| time::rfc3339(c.revoked_at)),
            })).collect::<Vec<_>>(),
            "signing_keys": a.signing_keys.iter().map(|k| json!({
                "public_key": hex::encode(&k.public_key),
                "fingerprint": ed25519_dalek::VerifyingKey::from_bytes(k.public_key.as_slice().try_into().unwrap_or(&[0; 32]))
                    .map(|v| wildnet_node::record::fingerprint(&v)).unwrap_or_default(),
                "added_at": time::rfc3339(k.added_at),
                "revoked_at": (k.revoked_at != 0).then(|| time::rfc3339(k.revoked_at)),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "groups": b.groups.iter().map(|g| json!({"name": g.name, "members": g.members})).collect::<Vec<_>>(),
    })
}

/// Prints a manifest as a table or JSON.
pub fn print_manifest(t: &Trusted, format: Format) -> anyhow::Result<()> {
    let v = manifest_json(t);
    if format == Format::Json {
        return output::json(&v);
    }
    output::line(&format!(
        "federation {:?}, manifest version {} issued {}",
        t.body().federation,
        t.version(),
        time::rfc3339(t.body().issued_at)
    ))?;
    let rows = v["agencies"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    let live = |list: &Value| {
                        list.as_array()
                            .map(|l| {
                                l.iter()
                                    .map(|c| {
                                        let id = c["sha256"]
                                            .as_str()
                                            .or(c["fingerprint"].as_str())
                                            .unwrap_or("");
                                        let id = id.get(..16).unwrap_or(id);
                                        if c["revoked_at"].is_null() {
                                            id.to_string()
                                        } else {
                                            format!("{id} (revoked)")
                                        }
                                    })
                                    .collect::<Vec<_>>()
                                    .join("\n")
                            })
                            .unwrap_or_default()
                    };
                    vec![
                        output::cell(a.get("id")),
                        output::cell(a.get("name")),
                        output::cell(a.get("address")),
                        if a["revoked_at"].is_null() {
                            "active".into()
                        } else {
                            format!("revoked {}", output::cell(a.get("revoked_at")))
                        },
                        live(&a["certs"]),
                        live(&a["signing_keys"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    output::table(
        &[
            "agency",
            "name",
            "address",
            "status",
            "TLS certificates",
            "signing keys",
        ],
        rows,
    )?;
    for g in t.body().groups.iter() {
        output::line(&format!("group {}: {}", g.name, g.members.join(", ")))?;
    }
    Ok(())
}

/// Runs the offline `federation` subcommands.
pub fn run(a: FederationArgs, format: Format) -> anyhow::Result<ExitCode> {
    match a.action {
        FederationAction::Init { dir, name } => {
            let s = Secretariat::init(&dir, &name)?;
            output::line(&format!(
                "federation {name:?} created in {}: CA {}, manifest version {}",
                dir.display(),
                dir.join("ca.cert.pem").display(),
                s.manifest().version()
            ))?;
        }
        FederationAction::Admit {
            dir,
            request,
            address,
            contact,
            rotate,
            days,
        } => {
            let mut s = Secretariat::open(&dir)?;
            let bytes = std::fs::read(&request)
                .with_context(|| format!("cannot read {}", request.display()))?;
            let (id, _) = s.admit(&bytes, &address, &contact, rotate, days)?;
            let cert = dir
                .join("issued")
                .join(format!("{}.cert.pem", id.to_lowercase()));
            output::line(&format!(
                "admitted {id} at {address}; manifest version {}",
                s.manifest().version()
            ))?;
            output::line(&format!(
                "give the agency: {} {} {}\nit runs: wildnet federation join --dir AGENCY_DIR --cert {} --ca {} --manifest {}",
                cert.display(),
                dir.join("ca.cert.pem").display(),
                dir.join("manifest.pb").display(),
                cert.display(),
                dir.join("ca.cert.pem").display(),
                dir.join("manifest.pb").display()
            ))?;
        }
        FederationAction::Group { dir, action } => {
            let mut s = Secretariat::open(&dir)?;
            match action {
                GroupAction::Set { name, members } => {
                    let members: Vec<String> = members.iter().map(|m| m.to_uppercase()).collect();
                    s.group_set(&name, &members)?;
                    output::line(&format!(
                        "group {name} = {}; manifest version {}",
                        members.join(", "),
                        s.manifest().version()
                    ))?;
                }
                GroupAction::Rm { name } => {
                    s.group_rm(&name)?;
                    output::line(&format!(
                        "group {name} removed; manifest version {}",
                        s.manifest().version()
                    ))?;
                }
            }
        }
        FederationAction::Revoke {
            dir,
            agency,
            key,
            from,
        } => {
            let mut s = Secretariat::open(&dir)?;
            let from = match from {
                Some(f) => time::parse(&f).context("--from")?,
                None => chrono::Utc::now().timestamp_millis(),
            };
            let what = s.revoke(&agency.to_uppercase(), key.as_deref(), from)?;
            output::line(&format!(
                "revoked {what} from {}; manifest version {} — install it on a node (wildnet manifest install) and it spreads",
                time::rfc3339(from),
                s.manifest().version()
            ))?;
        }
        FederationAction::Show { dir } => {
            let s = Secretariat::open(&dir)?;
            print_manifest(s.manifest(), format)?;
        }
        FederationAction::Join {
            dir,
            cert,
            ca,
            manifest,
            listen,
        } => {
            let listen = wildnet_node::join::join(&dir, &cert, &ca, &manifest, listen.as_deref())
                .map_err(anyhow::Error::msg)?;
            output::line(&format!(
                "joined: {} now listens for peers on {listen} (restart wildnet-node to apply)",
                dir.display()
            ))?;
        }
        FederationAction::Quickstart {
            dir,
            agencies,
            groups,
            base_port,
        } => {
            quickstart(&dir, &agencies, &groups, base_port)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn quickstart(dir: &Path, agencies: &[String], groups: &str, base_port: u16) -> anyhow::Result<()> {
    if agencies.len() < 2 {
        bail!("a federation needs at least two agencies (--agencies KE-KWS,ZA-DFFE)");
    }
    let ids: Vec<String> = agencies.iter().map(|id| id.trim().to_uppercase()).collect();
    let mut spec = wildnet_testbed::FedSpec::new(&ids)
        .named("wildnet demo federation", "demo")
        .addresses(wildnet_testbed::Addresses::Fixed(base_port))
        .hello_interval(None);
    spec.cert_days = 365;
    spec.secretariat_dir = "federation".into();
    for g in groups.split(';').map(str::trim).filter(|g| !g.is_empty()) {
        let (name, members) = g
            .split_once('=')
            .with_context(|| format!("group {g:?} must be NAME=ID,ID"))?;
        let members = members
            .split(',')
            .map(|m| m.trim().to_uppercase())
            .collect();
        spec.groups.push((name.trim().to_string(), members));
    }
    let built = wildnet_testbed::build(&spec, dir)?;
    output::line(&format!(
        "federation of {} agencies in {} (manifest version {}). Start each node in its own terminal:",
        built.agencies.len(),
        dir.display(),
        built.secretariat()?.manifest().version()
    ))?;
    for a in &built.agencies {
        output::line(&format!(
            "  wildnet-node --config {}/node.toml    # {} on {}",
            a.dir.display(),
            a.id,
            a.addr
        ))?;
    }
    if let Some(a) = built.agencies.first() {
        output::line(&format!("then: wildnet --node {} peers", a.dir.display()))?;
    }
    Ok(())
}

/// Flags of `wildnet manifest`.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// show (default) or install FILE
    #[command(subcommand)]
    pub action: Option<ManifestAction>,
}

/// Manifest subcommands.
#[derive(Debug, Subcommand)]
pub enum ManifestAction {
    /// Show the manifest the node trusts now
    Show,
    /// Give the running node a newer manifest; it verifies, adopts and gossips it
    Install {
        /// The manifest file (manifest.pb from the secretariat)
        file: PathBuf,
    },
}

/// Runs `manifest`.
pub async fn manifest(
    client: &mut AgencyClient<Channel>,
    a: ManifestArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    match a.action.unwrap_or(ManifestAction::Show) {
        ManifestAction::Show => {
            let m = client
                .get_manifest(pb::GetManifestRequest {})
                .await
                .map_err(explain)?
                .into_inner();
            let body = pb::ManifestBody::decode(m.body.as_slice())
                .context("the node's manifest does not decode")?;
            // The node verified it; show it as the node trusts it.
            let t = unverified(m, body);
            print_manifest(&t, format)?;
        }
        ManifestAction::Install { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let m = pb::Manifest::decode(bytes.as_slice())
                .with_context(|| format!("{} is not a manifest", file.display()))?;
            let r = client
                .install_manifest(m)
                .await
                .map_err(explain)?
                .into_inner();
            match format {
                Format::Json => output::json(
                    &json!({"adopted": r.adopted, "version": r.version, "reason": r.reason}),
                )?,
                Format::Table if r.adopted => output::line(&format!(
                    "manifest version {} installed; spreading to peers",
                    r.version
                ))?,
                Format::Table => output::line(&format!(
                    "not installed: {} (version in force: {})",
                    r.reason, r.version
                ))?,
            }
            if !r.adopted {
                return Ok(ExitCode::from(3));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Wraps a manifest the node already verified, for display only.
fn unverified(m: pb::Manifest, body: pb::ManifestBody) -> Trusted {
    Trusted::for_display(m, body)
}

/// Flags of `wildnet sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this peer
    #[arg(long)]
    pub peer: Option<String>,
    /// Return once caught up with the peers
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait at most
    #[arg(long, default_value_t = 30)]
    pub timeout: u32,
    /// Also run the completeness check: reconcile the ids each peer should
    /// have sent with those held here, and fetch what is missing
    #[arg(long)]
    pub verify: bool,
}

/// Runs `sync`.
pub async fn sync(
    client: &mut AgencyClient<Channel>,
    a: SyncArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let r = client
        .sync(pb::SyncRequest {
            peer: a.peer.unwrap_or_default().to_uppercase(),
            wait: a.wait,
            timeout_secs: a.timeout,
            verify: a.verify,
        })
        .await
        .map_err(explain)?
        .into_inner();
    print_peers(r, format)
}

/// Runs `peers`.
pub async fn peers(client: &mut AgencyClient<Channel>, format: Format) -> anyhow::Result<ExitCode> {
    let r = client
        .peers(pb::PeersRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    print_peers(r, format)
}

fn print_peers(r: pb::PeersResponse, format: Format) -> anyhow::Result<ExitCode> {
    let ago = |ms: i64| {
        if ms == 0 {
            "never".to_string()
        } else {
            time::rfc3339(ms)
        }
    };
    match format {
        Format::Json => output::json(&json!({
            "federation": r.federation,
            "manifest_version": r.manifest_version,
            "peers": r.peers.iter().map(|p| json!({
                "agency": p.agency, "address": p.address, "state": p.state, "last_error": p.last_error,
                "last_success": (p.last_success != 0).then(|| time::rfc3339(p.last_success)),
                "last_inbound": (p.last_inbound != 0).then(|| time::rfc3339(p.last_inbound)),
                "manifest_version": p.manifest_version,
                "cursor": p.cursor, "received": p.received, "duplicates": p.duplicates,
                "rejected": p.rejected, "sent": p.sent, "last_rejection": p.last_rejection,
                "caught_up_at": (p.caught_up_at != 0).then(|| time::rfc3339(p.caught_up_at)),
                "peer_head": p.peer_head, "lag": p.peer_head.saturating_sub(p.cursor),
                "policy_epoch": p.policy_epoch,
                "verified_at": (p.verified_at != 0).then(|| time::rfc3339(p.verified_at)),
                "verify_missing": p.verify_missing, "verify_repaired": p.verify_repaired,
                "verify_peer_lacks": p.verify_peer_lacks, "verify_ranges": p.verify_ranges,
                "verify_error": p.verify_error, "receipts_queued": p.receipts_queued,
                "wire_sent": p.wire_sent, "wire_received": p.wire_received,
            })).collect::<Vec<_>>(),
        }))?,
        Format::Table => {
            output::line(&format!(
                "federation {:?}, manifest version {}",
                r.federation, r.manifest_version
            ))?;
            output::table(
                &[
                    "peer",
                    "address",
                    "state",
                    "cursor",
                    "lag",
                    "received",
                    "dup",
                    "rejected",
                    "sent",
                    "their manifest",
                    "last success",
                    "last check",
                    "problem",
                ],
                r.peers
                    .iter()
                    .map(|p| {
                        let mut problems = Vec::new();
                        if !p.last_error.is_empty() {
                            problems.push(p.last_error.clone());
                        }
                        if !p.last_rejection.is_empty() {
                            problems.push(format!("last rejected: {}", p.last_rejection));
                        }
                        if !p.verify_error.is_empty() {
                            problems.push(format!("check failed: {}", p.verify_error));
                        }
                        if p.receipts_queued > 0 {
                            problems.push(format!("{} receipts queued", p.receipts_queued));
                        }
                        let problem = problems.join("; ");
                        let check = if p.verified_at == 0 {
                            "never".to_string()
                        } else {
                            format!(
                                "{}: {} missing, {} fetched, {} they lack",
                                time::rfc3339(p.verified_at),
                                p.verify_missing,
                                p.verify_repaired,
                                p.verify_peer_lacks
                            )
                        };
                        vec![
                            p.agency.clone(),
                            p.address.clone(),
                            p.state.clone(),
                            p.cursor.to_string(),
                            p.peer_head.saturating_sub(p.cursor).to_string(),
                            p.received.to_string(),
                            p.duplicates.to_string(),
                            p.rejected.to_string(),
                            p.sent.to_string(),
                            p.manifest_version.to_string(),
                            ago(p.last_success),
                            check,
                            problem,
                        ]
                    })
                    .collect(),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
