//! The `wildnet` command-line interface. `main` is thin; [`run`] does the
//! work so tests can drive the CLI in-process.
//!
//! Data goes to stdout (a table, or one JSON document with `--format
//! json`); diagnostics go to stderr. Exit codes: 0 success, 1 error,
//! 2 usage error, 3 an import or audit check that found problems.

pub mod cmd;
pub mod draft;
pub mod interop;
pub mod json;
pub mod output;
pub mod time;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Human-readable tables.
    #[default]
    Table,
    /// One JSON document for scripts.
    Json,
}

/// Every value `--format` takes: the output formats of every command and
/// the file formats of `export`. [`FormatArg::output`] and
/// [`FormatArg::export`] say which a command accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Human-readable tables.
    Table,
    /// One JSON document for scripts.
    Json,
    /// export: one record per line, re-importable.
    Jsonl,
    /// export: listings in the import columns.
    Csv,
    /// export: a STIX 2.1 bundle.
    Stix,
    /// export: the CITES annual illegal-trade report's seizure rows.
    CitesAitr,
    /// export: Ecomessage-shaped seizure reports.
    Ecomessage,
}

impl FormatArg {
    /// The output format of a command other than `export`.
    pub fn output(self) -> anyhow::Result<Format> {
        match self {
            FormatArg::Table => Ok(Format::Table),
            FormatArg::Json => Ok(Format::Json),
            other => anyhow::bail!(
                "--format {} is a file format of `wildnet export`; this command prints table or json",
                other
                    .to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            ),
        }
    }

    /// The file format of `export`.
    pub fn export(self) -> anyhow::Result<cmd::export::ExportFormat> {
        use cmd::export::ExportFormat as E;
        Ok(match self {
            FormatArg::Jsonl => E::Jsonl,
            FormatArg::Csv => E::Csv,
            FormatArg::Stix => E::Stix,
            FormatArg::CitesAitr => E::CitesAitr,
            FormatArg::Ecomessage => E::Ecomessage,
            FormatArg::Table | FormatArg::Json => anyhow::bail!(
                "wildnet export needs --format jsonl, csv, stix, cites-aitr or ecomessage"
            ),
        })
    }
}

/// wildnet: federated wildlife-crime intelligence sharing.
#[derive(Debug, Parser)]
#[command(name = "wildnet", version, about, propagate_version = true)]
pub struct Cli {
    /// The node: an agency dir (with node.toml), unix:PATH or http://HOST:PORT
    #[arg(long, global = true, env = "WILDNET_NODE", default_value = ".")]
    pub node: String,
    /// Output format: table or json; `export` writes jsonl, csv, stix,
    /// cites-aitr or ecomessage
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The first run: four agencies on this machine share, correlate,
    /// deconflict and plan an operation, narrated step by step
    Demo(cmd::demo::DemoArgs),
    /// Create an agency dir: signing and TLS keys, admission request, node.toml
    Init(cmd::init::InitArgs),
    /// Sign and store a record (listing, entity, seizure, note, or --file)
    Publish(Box<cmd::publish::PublishArgs>),
    /// Publish many records from CSV (listings) or JSONL (any kind)
    Import(cmd::import::ImportArgs),
    /// Write the records a query matches as JSONL, CSV, a STIX 2.1 bundle,
    /// CITES illegal-trade report rows or Ecomessage-shaped reports
    Export(Box<cmd::export::ExportArgs>),
    /// Show one record by id or unique prefix, with its versions
    Get(cmd::read::GetArgs),
    /// Search records, newest first
    Query(Box<cmd::read::QueryArgs>),
    /// Count records, optionally grouped
    Stats(cmd::read::StatsArgs),
    /// Records sharing a selector with a record or holding a value; --top
    Correlate(cmd::correlate::CorrelateArgs),
    /// Alerts: a stored record links to another agency's, or holds a watched value
    Alerts(cmd::alerts::AlertsArgs),
    /// Watch values: a record holding one raises an alert
    Watch(cmd::alerts::WatchArgs),
    /// Ask peers hit/no-hit whether they hold selectors, without telling them which
    Deconflict(cmd::deconflict::DeconflictArgs),
    /// Coordinated operations: propose, respond, update, list, show the board
    Op(cmd::op::OpArgs),
    /// Withdraw one of your records everywhere it reached
    Retract(cmd::admin::RetractArgs),
    /// Read or verify the audit log
    Audit(cmd::admin::AuditArgs),
    /// Show who the node is and what it holds
    Info,
    /// One screen: holdings, peers, rejections, follow-ups, alerts; exit 4
    /// when something needs attention
    Status,
    /// Operator tasks: check the store, back it up, restore a backup
    Admin(cmd::maintain::AdminArgs),
    /// Generate synthetic data (listings, seizures, entities) for demos, tests and the bench
    Generate(cmd::generate::GenerateArgs),
    /// Federation set-up: CA, admitting agencies, groups, revocation, joining
    Federation(cmd::federation::FederationArgs),
    /// Agency key management (rotation)
    Keys(cmd::init::KeysArgs),
    /// Show the manifest a node trusts, or install a newer one
    Manifest(cmd::federation::ManifestArgs),
    /// The state of every federation peer of the node
    Peers,
    /// Pull from peers now; --wait returns once caught up
    Sync(cmd::federation::SyncArgs),
    /// Print the shell completion script (bash, zsh, fish, …)
    Completions(cmd::completions::CompletionsArgs),
    /// Measure ingest, query and sync against this machine's own limits
    /// (a throw-away three-agency federation of real nodes)
    Bench(cmd::bench::BenchArgs),
}

/// Runs the CLI with already-parsed arguments.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let export = match &cli.command {
        Command::Export(_) => Some(cli.format.export()?),
        _ => None,
    };
    let format = match export {
        Some(_) => Format::Table,
        None => cli.format.output()?,
    };
    match &cli.command {
        Command::Init(args) => return cmd::init::run(args, format),
        Command::Generate(args) => return cmd::generate::run(args),
        Command::Keys(args) => return cmd::init::keys(args, format),
        Command::Completions(args) => return cmd::completions::run(args),
        Command::Admin(cmd::maintain::AdminArgs {
            action: cmd::maintain::AdminAction::Restore { dir },
        }) => return cmd::maintain::restore(&cli.node, dir, format),
        Command::Admin(cmd::maintain::AdminArgs {
            action: cmd::maintain::AdminAction::HttpUser { name, users },
        }) => return cmd::maintain::http_user(&cli.node, name, users.as_deref(), format),
        _ => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let cli = match cli.command {
        Command::Federation(args) => return cmd::federation::run(args, format),
        Command::Bench(args) => return rt.block_on(cmd::bench::run(args, format)),
        Command::Demo(args) => return rt.block_on(cmd::demo::run(args)),
        _ => cli,
    };
    rt.block_on(async move {
        let target = wildnet_node::client::Target::parse(&cli.node)?;
        let mut client = target.connect().await?;
        let f = format;
        match cli.command {
            Command::Init(_)
            | Command::Generate(_)
            | Command::Federation(_)
            | Command::Keys(_)
            | Command::Bench(_)
            | Command::Completions(_)
            | Command::Demo(_) => {
                unreachable!("handled above")
            }
            Command::Manifest(a) => cmd::federation::manifest(&mut client, a, f).await,
            Command::Peers => cmd::federation::peers(&mut client, f).await,
            Command::Sync(a) => cmd::federation::sync(&mut client, a, f).await,
            Command::Publish(a) => cmd::publish::run(&mut client, *a, f).await,
            Command::Import(a) => cmd::import::run(&mut client, a, f).await,
            Command::Export(a) => {
                cmd::export::run(
                    &mut client,
                    *a,
                    export.unwrap_or(cmd::export::ExportFormat::Jsonl),
                )
                .await
            }
            Command::Get(a) => cmd::read::get(&mut client, a, f).await,
            Command::Query(a) => cmd::read::query(&mut client, *a, f).await,
            Command::Stats(a) => cmd::read::stats(&mut client, a, f).await,
            Command::Correlate(a) => cmd::correlate::run(&mut client, a, f).await,
            Command::Alerts(a) => cmd::alerts::run(&mut client, a, f).await,
            Command::Watch(a) => cmd::alerts::watch(&mut client, a, f).await,
            Command::Deconflict(a) => cmd::deconflict::run(&mut client, a, f).await,
            Command::Op(a) => cmd::op::run(&mut client, a, f).await,
            Command::Retract(a) => cmd::admin::retract(&mut client, a, f).await,
            Command::Audit(a) => cmd::admin::audit(&mut client, a, f).await,
            Command::Info => cmd::admin::info(&mut client, f).await,
            Command::Status => cmd::status::run(&mut client, f).await,
            Command::Admin(a) => cmd::maintain::run(&mut client, a, f).await,
        }
    })
}

/// Turns a gRPC status into an error that says what to do.
pub fn explain(s: tonic::Status) -> anyhow::Error {
    // A status the node sent names its own cause and fix (a full disk, a
    // rebuild under way); one made on this side, when the connection
    // failed mid-call, carries the transport error as its source.
    if s.code() == tonic::Code::Unavailable && std::error::Error::source(&s).is_some() {
        anyhow::anyhow!("{} (is wildnet-node running? check --node)", s.message())
    } else {
        anyhow::anyhow!("{}", s.message())
    }
}

#[cfg(test)]
mod explain_tests {
    use super::explain;

    #[test]
    fn only_a_lost_connection_asks_whether_the_node_runs() {
        let disk_full = tonic::Status::unavailable(
            "the write was not stored (No space left on device): the disk holding the data dir \
             is full: free space and retry",
        );
        let said = explain(disk_full).to_string();
        assert!(said.contains("disk holding the data dir is full"), "{said}");
        assert!(!said.contains("is wildnet-node running"), "{said}");
        let mut lost = tonic::Status::unavailable("transport error");
        lost.set_source(std::sync::Arc::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert!(
            explain(lost)
                .to_string()
                .contains("is wildnet-node running? check --node")
        );
    }
}
