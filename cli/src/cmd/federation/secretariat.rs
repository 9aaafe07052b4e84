//! The secretariat's offline commands, the agency's `join`, and
//! `quickstart` (a whole federation on one machine, on the testbed).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use wildnet_node::secretariat::Secretariat;

use wildnet_node::layout;

use crate::{Format, output, time};

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
        /// First loopback port of the HTTP listeners (metrics, dashboard);
        /// agency i on http-port + i; 0 leaves them off
        #[arg(long, default_value_t = 8480)]
        http_port: u16,
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

/// Runs the offline `federation` subcommands.
pub fn run(a: FederationArgs, format: Format) -> anyhow::Result<ExitCode> {
    match a.action {
        FederationAction::Init { dir, name } => {
            let s = Secretariat::init(&dir, &name)?;
            output::line(&format!(
                "federation {name:?} created in {}: CA {}, manifest version {}",
                dir.display(),
                dir.join(layout::CA_CERT).display(),
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
        } => admit(&dir, &request, &address, &contact, rotate, days)?,
        FederationAction::Group { dir, action } => group(&dir, action)?,
        FederationAction::Revoke {
            dir,
            agency,
            key,
            from,
        } => revoke(&dir, &agency, key.as_deref(), from.as_deref())?,
        FederationAction::Show { dir } => {
            let s = Secretariat::open(&dir)?;
            super::print_manifest(s.manifest(), format)?;
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
            http_port,
        } => {
            quickstart(&dir, &agencies, &groups, (base_port, http_port))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke(dir: &Path, agency: &str, key: Option<&str>, from: Option<&str>) -> anyhow::Result<()> {
    let mut s = Secretariat::open(dir)?;
    let from = match from {
        Some(f) => time::parse(f).context("--from")?,
        None => chrono::Utc::now().timestamp_millis(),
    };
    let what = s.revoke(&agency.to_uppercase(), key, from)?;
    output::line(&format!(
        "revoked {what} from {}; manifest version {} — install it on a node (wildnet manifest install) and it spreads",
        time::rfc3339(from),
        s.manifest().version()
    ))
}

fn admit(
    dir: &Path,
    request: &Path,
    address: &str,
    contact: &str,
    rotate: bool,
    days: u32,
) -> anyhow::Result<()> {
    let mut s = Secretariat::open(dir)?;
    let bytes =
        std::fs::read(request).with_context(|| format!("cannot read {}", request.display()))?;
    let (id, _) = s.admit(&bytes, address, contact, rotate, days)?;
    let cert = dir.join(layout::issued_cert(&id));
    let (ca, manifest) = (dir.join(layout::CA_CERT), dir.join(layout::MANIFEST));
    output::line(&format!(
        "admitted {id} at {address}; manifest version {}",
        s.manifest().version()
    ))?;
    output::line(&format!(
        "give the agency: {} {} {}\nit runs: wildnet federation join --dir AGENCY_DIR --cert {} --ca {} --manifest {}",
        cert.display(),
        ca.display(),
        manifest.display(),
        cert.display(),
        ca.display(),
        manifest.display()
    ))
}

fn group(dir: &Path, action: GroupAction) -> anyhow::Result<()> {
    let mut s = Secretariat::open(dir)?;
    match action {
        GroupAction::Set { name, members } => {
            let members: Vec<String> = members.iter().map(|m| m.to_uppercase()).collect();
            s.group_set(&name, &members)?;
            output::line(&format!(
                "group {name} = {}; manifest version {}",
                members.join(", "),
                s.manifest().version()
            ))
        }
        GroupAction::Rm { name } => {
            s.group_rm(&name)?;
            output::line(&format!(
                "group {name} removed; manifest version {}",
                s.manifest().version()
            ))
        }
    }
}

/// `ports`: the first Federation port and the first HTTP port (0: off).
fn quickstart(
    dir: &Path,
    agencies: &[String],
    groups: &str,
    ports: (u16, u16),
) -> anyhow::Result<()> {
    let (base_port, http_port) = ports;
    if agencies.len() < 2 {
        bail!("a federation needs at least two agencies (--agencies KE-KWS,ZA-DFFE)");
    }
    let ids: Vec<String> = agencies.iter().map(|id| id.trim().to_uppercase()).collect();
    let mut spec = wildnet_testbed::FedSpec::new(&ids)
        .named("wildnet demo federation", "demo")
        .addresses(wildnet_testbed::Addresses::Fixed(base_port))
        .hello_interval(None);
    spec.cert_days = 365;
    if http_port != 0 {
        spec = spec.http(http_port);
    }
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
    for (i, a) in built.agencies.iter().enumerate() {
        let http = match http_port {
            0 => String::new(),
            p => format!(
                ", dashboard and metrics on http://127.0.0.1:{}/",
                usize::from(p) + i
            ),
        };
        output::line(&format!(
            "  wildnet-node --config {}/node.toml    # {} on {}{http}",
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
