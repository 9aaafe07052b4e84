//! `wildnet import FILE`: stream CSV (listings) or JSONL (any kind) drafts
//! to the node. Rows are parsed here and streamed; the node signs and
//! stores them in batches. A bad row is reported with its line number and
//! reason and never stops the import.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

use crate::draft::{self, CSV_COLUMNS, HandlingArgs};
use crate::{Format, explain, json, output};

/// Input file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Comma-separated, one listing per row, with a header row.
    Csv,
    /// One JSON draft per line.
    Jsonl,
    /// A STIX 2.1 bundle (observed-data, incident, threat-actor, note).
    Stix,
}

/// Flags of `wildnet import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import (.csv or .jsonl)
    pub file: PathBuf,
    /// Input format [default: from the file extension]
    #[arg(long = "as", value_enum)]
    pub input: Option<InputFormat>,
    /// Handling applied to every row that does not set its own
    #[command(flatten)]
    pub handling: HandlingArgs,
    /// Longest row (a CSV record, a JSONL line) read; a longer one is
    /// rejected by line, unparsed (a JSONL line without being held in
    /// memory). A STIX bundle is read whole
    #[arg(long, default_value_t = MAX_ROW_BYTES)]
    pub max_row_bytes: usize,
}

/// Longest row an import reads by default: 1 MiB, far above a record's
/// 64 KiB body limit, so only a broken or hostile file meets it.
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// A byte progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(len: u64) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(len),
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} importing [{bar:40}] {bytes}/{total_bytes} {msg} ({eta})",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// Rejected rows, by line.
pub type Rejections = Vec<pb::ImportRejection>;

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    /// Rows (or STIX objects that map to records) read.
    pub rows: u64,
    /// The node's summary, with the rows refused here added.
    pub summary: pb::ImportSummary,
    /// Every rejected row, by line (a STIX object by its position).
    pub rejections: Rejections,
    /// STIX objects left out, with why (`object N (id): reason`).
    pub skipped: Vec<String>,
}

/// Reads the file on a blocking thread and sends drafts; returns the rows
/// read, those that could not be parsed, and the objects skipped.
fn read_file(
    path: PathBuf,
    format: InputFormat,
    defaults: HandlingArgs,
    max_row: usize,
    tx: mpsc::Sender<pb::ImportItem>,
    bar: ProgressBar,
) -> anyhow::Result<(u64, Rejections, Vec<String>)> {
    let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut sink = Sink {
        defaults,
        tx,
        rows: 0,
        rejected: Vec::new(),
        max_row,
    };
    let mut skipped = Vec::new();
    match format {
        InputFormat::Csv => read_csv(BufReader::new(file), &mut sink, &bar)?,
        InputFormat::Jsonl => read_jsonl(BufReader::new(file), &mut sink, &bar),
        InputFormat::Stix => skipped = read_stix(BufReader::new(file), &mut sink)?,
    }
    Ok((sink.rows, sink.rejected, skipped))
}

/// A STIX 2.1 bundle: each object that maps to a record is one row,
/// numbered by its position in `objects`.
fn read_stix(file: BufReader<File>, sink: &mut Sink) -> anyhow::Result<Vec<String>> {
    let bundle: serde_json::Value =
        serde_json::from_reader(file).context("the STIX file is not valid JSON")?;
    let read = crate::interop::stix_import::read(&bundle)?;
    for m in read.mapped {
        if !sink.take(m.index, m.draft) {
            break;
        }
    }
    Ok(read
        .skipped
        .into_iter()
        .map(|(i, id, why)| format!("object {i} ({id}): {why}"))
        .collect())
}

/// Where parsed rows go: drafts to the node, failures to the rejections.
struct Sink {
    defaults: HandlingArgs,
    tx: mpsc::Sender<pb::ImportItem>,
    rows: u64,
    rejected: Rejections,
    /// `--max-row-bytes`.
    max_row: usize,
}

impl Sink {
    /// Takes one row; false once the node stopped taking drafts.
    fn take(&mut self, line: u64, d: anyhow::Result<pb::RecordBody>) -> bool {
        self.rows += 1;
        let d = d.and_then(|mut d| {
            fill_defaults(&self.defaults, &mut d)?;
            Ok(d)
        });
        match d {
            Ok(draft) => self
                .tx
                .blocking_send(pb::ImportItem {
                    line,
                    draft: Some(draft),
                })
                .is_ok(),
            Err(e) => {
                self.reject(line, format!("{e:#}"));
                true
            }
        }
    }

    fn reject(&mut self, line: u64, reason: String) {
        self.rejected.push(pb::ImportRejection { line, reason });
    }

    /// Rejects a row of `len` bytes over `--max-row-bytes`; true if it was.
    fn too_long(&mut self, line: u64, len: usize) -> bool {
        if len <= self.max_row {
            return false;
        }
        self.rows += 1;
        self.reject(
            line,
            format!(
                "row of {len} bytes or more, over the {} read (--max-row-bytes)",
                self.max_row
            ),
        );
        true
    }
}

/// CSV: a header row of known columns (with `platform`), then a listing
/// per row.
fn read_csv(file: BufReader<File>, sink: &mut Sink, bar: &ProgressBar) -> anyhow::Result<()> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let headers = rdr
        .headers()
        .context("cannot read the CSV header row")?
        .clone();
    let headers = csv::StringRecord::from(
        headers
            .iter()
            .map(|h| h.trim().to_lowercase())
            .collect::<Vec<_>>(),
    );
    if let Some(bad) = headers.iter().find(|h| !CSV_COLUMNS.contains(h)) {
        bail!(
            "unknown CSV column {bad:?}: the columns are {}",
            CSV_COLUMNS.join(", ")
        );
    }
    if !headers.iter().any(|h| h == "platform") {
        bail!("the CSV has no platform column: every listing needs one");
    }
    let mut row = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {
                let line = row.position().map(|p| p.line()).unwrap_or(line);
                if sink.too_long(line, row.as_slice().len()) {
                    continue;
                }
                let d = if row.len() != headers.len() {
                    Err(anyhow::anyhow!(
                        "row has {} fields, the header has {}",
                        row.len(),
                        headers.len()
                    ))
                } else {
                    draft::csv_row(&headers, &row)
                };
                if !sink.take(line, d) {
                    break;
                }
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                sink.rows += 1;
                sink.reject(line, format!("malformed CSV: {e}"));
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
                ) {
                    break;
                }
            }
        }
        bar.set_position(rdr.position().byte());
    }
    Ok(())
}

/// JSONL: one draft of any kind per non-blank line.
fn read_jsonl(mut reader: BufReader<File>, sink: &mut Sink, bar: &ProgressBar) {
    let mut raw = Vec::new();
    let mut line = 0u64;
    let mut bytes = 0u64;
    loop {
        raw.clear();
        // At most one byte over the limit is held, however long the line;
        // bytes, so a cut inside a character is not a read error.
        let limit = sink.max_row as u64 + 1;
        let n = match reader.by_ref().take(limit).read_until(b'\n', &mut raw) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                sink.reject(line + 1, format!("unreadable line: {e}"));
                break;
            }
        };
        line += 1;
        bytes += n as u64;
        if n as u64 == limit && raw.last() != Some(&b'\n') {
            sink.too_long(line, n);
            match reader.skip_until(b'\n') {
                Ok(skipped) => bytes += skipped as u64,
                Err(_) => break,
            }
            bar.set_position(bytes);
            continue;
        }
        bar.set_position(bytes);
        let draft = match std::str::from_utf8(&raw) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => json::draft_from_json(text),
            Err(e) => Err(anyhow::anyhow!(
                "the line is not UTF-8 ({e}): save the file as UTF-8"
            )),
        };
        if !sink.take(line, draft) {
            break;
        }
    }
}

fn fill_defaults(defaults: &HandlingArgs, d: &mut pb::RecordBody) -> anyhow::Result<()> {
    let h = d.handling.clone().unwrap_or_default();
    let mut only_missing = defaults.clone();
    if h.tlp != 0 {
        only_missing.tlp = None;
    }
    if h.scope != 0 {
        only_missing.share = None;
    }
    if h.code != 0 {
        only_missing.code = None;
    }
    only_missing.apply(d)
}

/// Streams a file to the node's Import: returns the rows read, the node's
/// summary with the rows refused here added, and every rejection by line.
pub async fn import_file(
    client: &mut AgencyClient<Channel>,
    file: &std::path::Path,
    input: InputFormat,
    defaults: HandlingArgs,
    max_row: usize,
    bar: &ProgressBar,
) -> anyhow::Result<Imported> {
    let (tx, rx) = mpsc::channel(4096);
    let reader = {
        let (path, bar) = (file.to_path_buf(), bar.clone());
        tokio::task::spawn_blocking(move || read_file(path, input, defaults, max_row, tx, bar))
    };
    let summary = client.import(ReceiverStream::new(rx)).await;
    let (rows, mut local, skipped) = reader.await.context("the file reader crashed")??;
    let mut s = summary.map_err(explain)?.into_inner();
    s.rejected += local.len() as u64;
    local.append(&mut s.rejections);
    local.sort_by_key(|r| r.line);
    Ok(Imported {
        rows,
        summary: s,
        rejections: local,
        skipped,
    })
}

/// The input format from the file name.
fn format_of(file: &std::path::Path) -> anyhow::Result<InputFormat> {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    Ok(match ext.as_deref() {
        Some("csv") => InputFormat::Csv,
        Some("jsonl" | "ndjson") => InputFormat::Jsonl,
        Some("json") if is_bundle(file) => InputFormat::Stix,
        Some("json") => InputFormat::Jsonl,
        _ => bail!(
            "cannot tell the format of {}: name it .csv, .jsonl or .json (a STIX bundle), or pass --as csv|jsonl|stix",
            file.display()
        ),
    })
}

/// Whether a .json file starts as a STIX bundle: `"type": "bundle"` in
/// its first 4 KiB.
fn is_bundle(file: &std::path::Path) -> bool {
    let mut head = vec![0u8; 4096];
    let n = File::open(file)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]).replace(char::is_whitespace, "");
    text.contains("\"type\":\"bundle\"")
}

/// Runs `import`.
pub async fn run(
    client: &mut AgencyClient<Channel>,
    a: ImportArgs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let input = match a.input {
        Some(f) => f,
        None => format_of(&a.file)?,
    };
    let len = std::fs::metadata(&a.file)
        .with_context(|| format!("cannot open {}", a.file.display()))?
        .len();
    let bar = progress(len);
    let started = std::time::Instant::now();
    let Imported {
        rows,
        summary: s,
        rejections: local,
        skipped,
    } = import_file(
        client,
        &a.file,
        input,
        a.handling.clone(),
        a.max_row_bytes,
        &bar,
    )
    .await?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    match format {
        Format::Json => output::json(&serde_json::json!({
            "rows": rows,
            "accepted": s.accepted,
            "duplicates": s.duplicates,
            "rejected": s.rejected,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "rejections": local.iter().map(|r| serde_json::json!({"line": r.line, "reason": r.reason})).collect::<Vec<_>>(),
            "skipped": skipped,
        }))?,
        Format::Table => {
            output::line(&format!(
                "imported {}: {} accepted, {} duplicates, {} rejected ({} rows in {:.1} s, {:.0} rows/s)",
                a.file.display(),
                s.accepted,
                s.duplicates,
                s.rejected,
                rows,
                secs,
                rows as f64 / secs.max(1e-9)
            ))?;
            let unit = if input == InputFormat::Stix {
                "object"
            } else {
                "line"
            };
            for r in &local {
                output::line(&format!("  {unit} {}: {}", r.line, r.reason))?;
            }
            if !skipped.is_empty() {
                output::line(&format!("skipped {} STIX object(s):", skipped.len()))?;
                for s in &skipped {
                    output::line(&format!("  {s}"))?;
                }
            }
        }
    }
    Ok(if s.rejected > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
