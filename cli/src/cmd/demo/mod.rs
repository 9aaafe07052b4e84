//! `wildnet demo`: a newcomer's first run. Four agencies (one group) as
//! real `wildnet-node` child processes on loopback with real certificates
//! and mutual TLS, built by the testbed in a fresh dir; then a narrated
//! case ([`story`]): what each agency shared and with whom, what each peer
//! received and what it was not given (and why), a cross-border
//! correlation and its alert, a deconfliction hit and a no-hit, a joint
//! operation, a retraction with its deletion receipts, and the
//! completeness check. The nodes stop at the end unless `--keep`.

mod story;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use tonic::transport::Channel;
use wildnet_proto::v1::agency_client::AgencyClient;
use wildnet_testbed::{FedSpec, Federation, Kind};

use crate::output;

/// The agencies, in the order they appear.
pub(crate) const AGENCIES: [&str; 4] = ["KE-KWS", "ZA-DFFE", "GB-NWCU", "VN-EP"];
/// The one group: East and Southern Africa.
pub(crate) const GROUP: (&str, &[&str]) = ("AFRICA", &["KE-KWS", "ZA-DFFE"]);

/// Flags of `wildnet demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the federation is made (default: a fresh temp dir, named at the start)
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seed of the generated background listings: the same seed, the same run
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Generated listings each agency imports besides the case
    #[arg(long, default_value_t = 250)]
    pub background: u64,
    /// Leave the nodes running at the end (prints their PIDs and how to stop them)
    #[arg(long)]
    pub keep: bool,
}

/// The running demo: the federation and a client per agency.
pub(crate) struct Demo {
    pub(crate) fed: Federation,
    pub(crate) clients: Vec<(String, AgencyClient<Channel>)>,
    pub(crate) seed: u64,
    pub(crate) background: u64,
}

impl Demo {
    /// The client of `agency`.
    pub(crate) fn client(&self, agency: &str) -> AgencyClient<Channel> {
        self.clients
            .iter()
            .find(|(a, _)| a == agency)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| unreachable!("{agency} is one of the demo's agencies"))
    }

    /// The agency dir of `agency`.
    pub(crate) fn dir(&self, agency: &str) -> PathBuf {
        self.fed.root.join(agency.to_lowercase())
    }
}

/// A heading and the one line on what the step proves.
pub(crate) fn step(n: u32, title: &str, proves: &str) -> anyhow::Result<()> {
    output::line("")?;
    output::line(&format!("== {n}. {title}"))?;
    output::line(&format!("   proves: {proves}"))
}

/// Runs `demo`.
pub async fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let root = match &a.dir {
        Some(d) => {
            if d.exists() && std::fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()) {
                anyhow::bail!(
                    "{} is not empty: give --dir a new or empty directory (the demo makes a federation there)",
                    d.display()
                );
            }
            d.clone()
        }
        None => tempfile::Builder::new()
            .prefix("wildnet-demo-")
            .tempdir()
            .context("cannot make a temp dir for the demo")?
            .keep(),
    };
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    output::line(&format!(
        "wildnet demo: four agencies of one federation, in {}",
        root.display()
    ))?;
    // Vietnam's node sends Britain nothing above GREEN: a per-peer policy
    // on top of each record's own handling.
    let spec = FedSpec::new(&AGENCIES)
        .groups(&[GROUP])
        .share_max_tlp("VN-EP", "GB-NWCU", "green")
        .named("Demo Wildlife Enforcement Network", "demo")
        // Each node's dashboard and metrics, on a loopback port it picks.
        .http(0);
    let fed = Federation::start_in(&spec, &root, Kind::Process)
        .await
        .context("starting the demo's nodes (is wildnet-node built next to wildnet?)")?;
    let mut clients = Vec::new();
    for n in &fed.nodes {
        clients.push((n.agency.clone(), n.client().await?));
    }
    let mut demo = Demo {
        fed,
        clients,
        seed: a.seed,
        background: a.background,
    };
    story::tell(&mut demo).await?;
    finish(demo, a.keep, started).await
}

/// How to keep exploring; stops the nodes, or leaves them running.
async fn finish(mut demo: Demo, keep: bool, started: Instant) -> anyhow::Result<ExitCode> {
    let ke = demo.dir("KE-KWS");
    output::line("")?;
    output::line(&format!(
        "Done in {:.0} s. Keep exploring (with the nodes running: --keep):",
        started.elapsed().as_secs_f64()
    ))?;
    for l in [
        format!(
            "  wildnet --node {} query --species \"Smutsia temminckii\"",
            ke.display()
        ),
        format!("  wildnet --node {} correlate --top", ke.display()),
        format!("  wildnet --node {} alerts", ke.display()),
        format!("  wildnet --node {} op list", ke.display()),
        format!("  wildnet --node {} peers", ke.display()),
        format!("  wildnet --node {} audit verify", ke.display()),
    ] {
        output::line(&l)?;
    }
    if keep {
        let mut pids = Vec::new();
        for n in &mut demo.fed.nodes {
            let web = n
                .http_addr()
                .map(|a| format!(", dashboard and metrics on http://{a}/"))
                .unwrap_or_default();
            if let Some(pid) = n.detach() {
                output::line(&format!(
                    "  {} runs as pid {pid} ({}){web}",
                    n.agency,
                    n.dir.display()
                ))?;
                pids.push(pid.to_string());
            }
        }
        output::line(&format!("Stop them with: kill {}", pids.join(" ")))?;
    } else {
        demo.fed.stop().await.context("stopping the demo's nodes")?;
        output::line("The nodes are stopped; their dirs and logs stay for a look.")?;
    }
    Ok(ExitCode::SUCCESS)
}
