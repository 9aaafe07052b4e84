//! `wildnet admin check | backup DIR | restore DIR | http-user NAME`: the
//! operator's consistency check, backups of a running node, restore into a
//! stopped one, and the dashboard's users.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::{Format, explain, output, time};

/// Flags of `wildnet admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// check, backup or restore
    #[command(subcommand)]
    pub action: AdminAction,
}

/// `wildnet admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Check the running node's store: every signature, ids, index,
    /// counters and the audit chain (writes wait while it runs); exits
    /// non-zero when something is wrong
    Check,
    /// Write a consistent snapshot of the running node's store, with a
    /// list of its files' SHA-256 hashes, into a new directory
    Backup {
        /// A directory that does not exist yet, or is empty
        dir: PathBuf,
    },
    /// Restore a backup into this agency dir (the node stopped, its data
    /// moved away); every file is checked against the list first
    Restore {
        /// The backup's directory
        dir: PathBuf,
    },
    /// Add a dashboard user, or set a new password (argon2id hash in the
    /// [http] users file); the password is read from the terminal without
    /// echo, or as one line from standard input
    HttpUser {
        /// The user's name (letters, digits, '.', '_', '-')
        name: String,
        /// The users file (default: [http] users of node.toml, else
        /// http/users.toml in the agency dir)
        #[arg(long)]
        users: Option<PathBuf>,
    },
}

/// Runs `admin check` and `admin backup` against a running node.
pub async fn run(
    client: &mut AgencyClient<Channel>,
    a: AdminArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    match a.action {
        AdminAction::Check => check(client, format).await,
        AdminAction::Backup { dir } => backup(client, &dir, format).await,
        AdminAction::Restore { .. } | AdminAction::HttpUser { .. } => {
            unreachable!("restore and http-user run without a node")
        }
    }
}

async fn check(client: &mut AgencyClient<Channel>, format: Format) -> anyhow::Result<ExitCode> {
    let r = client
        .check(pb::CheckRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => output::json(&serde_json::json!({
            "ok": r.problems.is_empty(), "records": r.records,
            "index_entries": r.index_entries, "dangling": r.dangling,
            "audit_entries": r.audit_entries, "problems": r.problems,
            "elapsed_ms": r.elapsed_ms,
        }))?,
        Format::Table => {
            output::line(&format!(
                "{} records, {} index entries ({} dangling, left by a crash: harmless), {} audit entries, checked in {} ms",
                r.records, r.index_entries, r.dangling, r.audit_entries, r.elapsed_ms
            ))?;
            for p in &r.problems {
                output::line(&format!("problem: {p}"))?;
            }
            if r.problems.is_empty() {
                output::line("sound: signatures, ids, index, counters and audit chain agree")?;
            }
        }
    }
    Ok(if r.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn backup(
    client: &mut AgencyClient<Channel>,
    dir: &Path,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let abs =
        std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let r = client
        .backup(pb::BackupRequest {
            dir: abs.to_string_lossy().into_owned(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => output::json(&serde_json::json!({
            "dir": r.dir, "records": r.records, "trees": r.trees, "bytes": r.bytes,
            "taken_at": time::rfc3339(r.taken_at), "elapsed_ms": r.elapsed_ms,
        }))?,
        Format::Table => output::line(&format!(
            "backed up {} records ({} trees, {} bytes) to {} in {} ms; restore with `wildnet admin restore {}`",
            r.records, r.trees, r.bytes, r.dir, r.elapsed_ms, r.dir
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `admin restore DIR` into the agency dir `node` (offline).
pub fn restore(node: &str, backup: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let cfg = Path::new(node).join(wildnet_node::layout::CONFIG_FILE);
    if !cfg.exists() {
        bail!(
            "{} not found: `admin restore` needs --node DIR, the agency dir to restore into",
            cfg.display()
        );
    }
    let settings = wildnet_node::config::Settings::load(&cfg)?;
    let db = settings.data_dir.join("db");
    let m = wildnet_node::storage::restore(backup, &db, settings.agency.as_str())
        .with_context(|| format!("cannot restore {}", backup.display()))?;
    match format {
        Format::Json => output::json(&serde_json::json!({
            "restored": db, "records": m.records, "taken_at": time::rfc3339(m.taken_at),
        }))?,
        Format::Table => output::line(&format!(
            "restored {} records (backup of {}) into {}; start the node: it resumes its peers from the backup's cursors",
            m.records,
            time::rfc3339(m.taken_at),
            db.display()
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `admin http-user`: adds `name` to the dashboard's users file.
pub fn http_user(
    node: &str,
    name: &str,
    users: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let cfg = Path::new(node).join(wildnet_node::layout::CONFIG_FILE);
    let configured = if cfg.exists() {
        wildnet_node::config::Settings::load(&cfg)?
            .http
            .and_then(|h| h.users)
    } else {
        None
    };
    let path = match (users, &configured) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(p)) => p.clone(),
        (None, None) => Path::new(node).join("http/users.toml"),
    };
    let password = read_password(name)?;
    wildnet_node::http::users::set_user(&path, name, &password).map_err(anyhow::Error::msg)?;
    let hint = if configured.as_deref() == Some(path.as_path()) {
        String::new()
    } else {
        format!(
            "; set [http] users = \"{}\" in node.toml and restart the node",
            path.display()
        )
    };
    match format {
        Format::Json => output::json(&serde_json::json!({ "user": name, "users": path }))?,
        Format::Table => output::line(&format!(
            "{name} can log in to the dashboard ({} updated){hint}",
            path.display()
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The password: asked twice on a terminal, else one line of stdin.
fn read_password(name: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: "))?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the two passwords differ: nothing changed");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
