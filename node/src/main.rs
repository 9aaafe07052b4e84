//! `wildnet-node --config node.toml`: runs one agency's node until SIGINT
//! or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// sled's copy-on-write pages allocate heavily from several threads; glibc
/// malloc's arena lock was the top contention point under import.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs a wildnet agency node.
#[derive(Debug, Parser)]
#[command(name = "wildnet-node", version, about)]
struct Args {
    /// The node's configuration file (created by `wildnet init`).
    #[arg(long, short, default_value = "node.toml", env = "WILDNET_CONFIG")]
    config: PathBuf,
}

fn main() -> ExitCode {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: a log file or journald gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // Under systemd, journald stamps each line itself (it sets
    // JOURNAL_STREAM for a service whose stderr it reads).
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        logs.without_time().init();
    } else {
        logs.init();
    }
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wildnet-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let settings = wildnet_node::config::Settings::load(&args.config)?;
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async {
        // Install the handlers before anything is served, so a signal that
        // arrives as soon as the socket is up still shuts down gracefully.
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        wildnet_node::server::run(settings, shutdown).await
    })
}
