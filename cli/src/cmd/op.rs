//! `wildnet op`: coordinated operations. The lead proposes (scoped to the
//! participants and itself), each participant answers, the lead updates;
//! `op list` and `op show` (the board) read them. The node enforces the
//! rules (only the lead updates, only participants answer) and fits each
//! record's audience to the operation.

mod board;

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use super::publish::full_id;
use crate::draft::{selectors, tlp};
use crate::{Format, explain, output, time};

use pb::record_body::Payload as P;

/// Flags of `wildnet op`.
#[derive(Debug, Args)]
pub struct OpArgs {
    /// What to do
    #[command(subcommand)]
    pub command: OpCommand,
}

/// The `op` subcommands.
#[derive(Debug, Subcommand)]
pub enum OpCommand {
    /// Propose an operation to participant agencies (you lead it)
    Propose(Box<ProposeArgs>),
    /// Answer a proposal you take part in
    Respond(RespondArgs),
    /// Move an operation on (lead only): status, outcome, seizures, participants
    Update(UpdateArgs),
    /// The operations this node holds
    List,
    /// One operation's board
    Show(ShowArgs),
}

/// Flags of `op propose`.
#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// Code name, e.g. THUNDERBIRD
    #[arg(long)]
    pub code_name: String,
    /// What the operation is for
    #[arg(long)]
    pub objective: String,
    /// First day (YYYY-MM-DD or RFC 3339)
    #[arg(long)]
    pub start: String,
    /// Last day (YYYY-MM-DD or RFC 3339)
    #[arg(long)]
    pub end: String,
    /// A participant agency (repeatable)
    #[arg(long = "participant", value_name = "AGENCY", required = true)]
    pub participants: Vec<String>,
    /// A target: a record id (or unique prefix) or a selector KIND:VALUE (repeatable)
    #[arg(long = "target", value_name = "RECORD_ID|KIND:VALUE")]
    pub targets: Vec<String>,
    /// A task for an agency, AGENCY=TEXT (repeatable)
    #[arg(long = "task", value_name = "AGENCY=TEXT")]
    pub tasks: Vec<String>,
    /// Answers are due by (default: the start)
    #[arg(long)]
    pub respond_by: Option<String>,
    /// TLP: clear, green, amber, amber+strict, red (default amber)
    #[arg(long)]
    pub tlp: Option<String>,
    /// Seconds to wait for each peer when deconflicting the targets
    #[arg(long)]
    pub deadline: Option<u32>,
}

/// An answer to a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Answer {
    /// Take part.
    Accept,
    /// Do not take part.
    Decline,
    /// Maybe: say on what it depends in --commit.
    Tentative,
}

/// Flags of `op respond`.
#[derive(Debug, Args)]
pub struct RespondArgs {
    /// The operation (its proposal's id or a unique prefix)
    pub id: String,
    /// accept, decline or tentative
    #[arg(value_enum)]
    pub answer: Answer,
    /// What your agency commits (officers, assets, tasks taken on)
    #[arg(long = "commit", default_value = "")]
    pub commitments: String,
    /// Whom the others call about it (desk, phone, email)
    #[arg(long)]
    pub contact: String,
}

/// An operation's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Being planned.
    Planned,
    /// Under way.
    Active,
    /// Over, with an outcome.
    Concluded,
    /// Called off.
    Cancelled,
}

/// Flags of `op update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The operation (its proposal's id or a unique prefix)
    pub id: String,
    /// The status from now on
    #[arg(long, value_enum)]
    pub status: StatusArg,
    /// What came of it
    #[arg(long, default_value = "")]
    pub outcome: String,
    /// A seizure record of the operation (id or unique prefix; repeatable)
    #[arg(long = "link", value_name = "SEIZURE_ID")]
    pub links: Vec<String>,
    /// An agency to add as participant (repeatable): it receives the
    /// proposal and the history
    #[arg(long = "add-participant", value_name = "AGENCY")]
    pub add: Vec<String>,
}

/// Flags of `op show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The operation (its proposal's id or a unique prefix)
    pub id: String,
    /// Ask every peer now (hit/no-hit) whether it holds the targets
    #[arg(long)]
    pub deconflict: bool,
    /// Seconds to wait for each peer with --deconflict
    #[arg(long)]
    pub deadline: Option<u32>,
}

/// Runs `op`.
pub async fn run(
    client: &mut AgencyClient<Channel>,
    a: OpArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    match a.command {
        OpCommand::Propose(p) => propose(client, *p, format).await,
        OpCommand::Respond(r) => respond(client, r, format).await,
        OpCommand::Update(u) => update(client, u, format).await,
        OpCommand::List => board::list(client, format).await,
        OpCommand::Show(s) => {
            let req = pb::OperationBoardRequest {
                id: s.id,
                deconflict: s.deconflict,
                deadline_secs: s.deadline.unwrap_or(0),
            };
            let b = client
                .get_operation(req)
                .await
                .map_err(explain)?
                .into_inner();
            board::show(&b, format)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn propose(
    client: &mut AgencyClient<Channel>,
    a: ProposeArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let mut p = pb::OperationProposal {
        code_name: a.code_name,
        objective: a.objective,
        window_start: time::parse(&a.start).context("--start")?,
        window_end: time::parse(&a.end).context("--end")?,
        participants: a.participants,
        respond_by: match &a.respond_by {
            Some(t) => time::parse(t).context("--respond-by")?,
            None => 0,
        },
        ..Default::default()
    };
    for t in &a.targets {
        if t.contains(':') {
            p.target_selectors
                .extend(selectors(std::slice::from_ref(t)).context("--target")?);
        } else {
            p.target_records
                .push(full_id(client, t).await.context("--target")?);
        }
    }
    for t in &a.tasks {
        let Some((agency, text)) = t.split_once('=') else {
            bail!(
                "--task {t:?} must be AGENCY=TEXT, e.g. --task TZ-WD='watch the Namanga crossing'"
            );
        };
        p.tasks.push(pb::OperationTask {
            agency: agency.trim().to_string(),
            description: text.trim().to_string(),
        });
    }
    let mut draft = pb::RecordBody {
        payload: Some(P::OperationProposal(p)),
        ..Default::default()
    };
    if let Some(t) = &a.tlp {
        draft.handling = Some(pb::Handling {
            tlp: tlp(t)?,
            ..Default::default()
        });
    }
    let id = publish(client, draft).await?;
    // The targets are deconflicted at once: does another agency hold them?
    let req = pb::OperationBoardRequest {
        id: id.clone(),
        deconflict: !a.targets.is_empty(),
        deadline_secs: a.deadline.unwrap_or(0),
    };
    let b = client
        .get_operation(req)
        .await
        .map_err(explain)?
        .into_inner();
    match format {
        Format::Json => output::json(&board::view(&b))?,
        Format::Table => {
            output::line(&format!("proposed {} {id}", b.code_name))?;
            board::targets(&b)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn respond(
    client: &mut AgencyClient<Channel>,
    a: RespondArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let operation = full_id(client, &a.id).await?;
    let answer = match a.answer {
        Answer::Accept => pb::OperationAnswer::Accept,
        Answer::Decline => pb::OperationAnswer::Decline,
        Answer::Tentative => pb::OperationAnswer::Tentative,
    };
    let draft = pb::RecordBody {
        payload: Some(P::OperationResponse(pb::OperationResponse {
            operation,
            answer: answer as i32,
            commitments: a.commitments,
            contact: a.contact,
        })),
        ..Default::default()
    };
    let id = publish(client, draft).await?;
    done(format, "answered", &id)
}

async fn update(
    client: &mut AgencyClient<Channel>,
    a: UpdateArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let operation = full_id(client, &a.id).await?;
    let status = match a.status {
        StatusArg::Planned => pb::OperationStatus::Planned,
        StatusArg::Active => pb::OperationStatus::Active,
        StatusArg::Concluded => pb::OperationStatus::Concluded,
        StatusArg::Cancelled => pb::OperationStatus::Cancelled,
    };
    let mut seizures = Vec::new();
    for s in &a.links {
        seizures.push(full_id(client, s).await.context("--link")?);
    }
    let draft = pb::RecordBody {
        payload: Some(P::OperationUpdate(pb::OperationUpdate {
            operation,
            status: status as i32,
            outcome: a.outcome,
            seizures,
            add_participants: a.add,
        })),
        ..Default::default()
    };
    let id = publish(client, draft).await?;
    done(format, "updated", &id)
}

async fn publish(
    client: &mut AgencyClient<Channel>,
    draft: pb::RecordBody,
) -> anyhow::Result<String> {
    let r = client
        .publish(pb::PublishRequest { draft: Some(draft) })
        .await
        .map_err(explain)?
        .into_inner();
    Ok(r.id)
}

fn done(format: Format, what: &str, id: &str) -> anyhow::Result<ExitCode> {
    match format {
        Format::Json => output::json(&serde_json::json!({ "id": id }))?,
        Format::Table => output::line(&format!("{what}: {id}"))?,
    }
    Ok(ExitCode::SUCCESS)
}
