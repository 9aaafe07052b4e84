//! The README's walk-through, run line by line with the real `wildnet` CLI
//! against three real node processes over mutual TLS: the lines are read
//! from README.md (the `sh` block after `<!-- walk-through -->`), so the
//! README cannot drift from what works. `fed-demo/` is this federation's
//! dir; `<NAME>` is the id a line marked "prints its id: <NAME>" printed; a
//! line marked "shows: A … B" must print every part, and is run again
//! (within a deadline) while sync has not brought it yet.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use wildnet_testbed::wait::Deadline;
use wildnet_testbed::{FedSpec, Federation, Kind};
use wildnet_tests::bin;

/// One command line of the block, with what it prints.
struct Step {
    words: Vec<String>,
    /// "prints its id: <NAME>": the placeholder its first id fills.
    captures: Option<String>,
    /// "shows: A … B": every part must be in its output.
    shows: Vec<String>,
}

/// The walk-through's steps, from the README.
fn steps(readme: &str) -> Vec<Step> {
    let start = readme
        .find("<!-- walk-through -->")
        .expect("the README marks its walk-through");
    let block = &readme[start..];
    let body = block
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("an sh block after the marker");
    body.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("wildnet "))
        .map(|l| {
            let (cmd, note) = l.split_once("  # ").unwrap_or((l, ""));
            let note = note.trim();
            Step {
                words: shlex::split(cmd).expect("shell words"),
                captures: note
                    .strip_prefix("prints its id: <")
                    .and_then(|n| n.strip_suffix('>'))
                    .map(str::to_string),
                shows: note
                    .strip_prefix("shows: ")
                    .map(|s| s.split(" … ").map(str::to_string).collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The first record id (64 hex) in `text`.
fn first_id(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64)
        .map(str::to_string)
}

/// The words with this run's dirs and ids filled in.
fn fill(words: &[String], root: &Path, ids: &HashMap<String, String>) -> Vec<String> {
    words[1..]
        .iter()
        .map(|w| {
            let mut w = w.replace("fed-demo/", &format!("{}/", root.display()));
            for (name, id) in ids {
                w = w.replace(&format!("<{name}>"), id);
            }
            w
        })
        .collect()
}

/// Runs one step until it prints what it shows; returns its output.
fn run(step: &Step, args: &[String]) -> String {
    let mut d = Deadline::new(
        format!("wildnet {}", args.join(" ")),
        Duration::from_secs(60),
    );
    loop {
        let out = Command::new(bin("wildnet"))
            .args(args)
            .output()
            .expect("run wildnet");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "wildnet {args:?} failed:\n{stdout}\n{stderr}"
        );
        if step.shows.iter().all(|s| stdout.contains(s)) {
            return stdout;
        }
        let rt = tokio::runtime::Handle::current();
        let seen = format!("{stdout}\n(want every one of {:?})", step.shows);
        rt.block_on(d.tick(seen)).expect("bounded wait");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walk_through_runs_as_written() {
    let readme = include_str!("../../../README.md");
    let steps = steps(readme);
    assert!(steps.len() >= 12, "the walk-through lost lines");
    let spec = FedSpec::new(&["KE-KWS", "ZA-DFFE", "GB-NWCU"]);
    let fed = Federation::start(&spec, Kind::Process)
        .await
        .expect("federation");
    let root = fed.root.clone();
    let mut ids: HashMap<String, String> = HashMap::new();
    tokio::task::block_in_place(|| {
        for step in &steps {
            let args = fill(&step.words, &root, &ids);
            let out = run(step, &args);
            if let Some(name) = &step.captures {
                let id =
                    first_id(&out).unwrap_or_else(|| panic!("no id printed by {args:?}: {out}"));
                ids.insert(name.clone(), id);
            }
        }
    });
    // The list and the board as JSON, for scripts.
    let op = ids.get("OP").expect("the operation's id");
    let ke_dir = root.join("ke-kws");
    let json = |args: &[&str]| wildnet_tests::cli_json_at(&ke_dir, args);
    let list = json(&["op", "list"]);
    assert_eq!(list[0]["code_name"], "THUNDERBIRD", "{list}");
    assert_eq!(
        (list[0]["answered"].as_u64(), list[0]["role"].as_str()),
        (Some(2), Some("lead"))
    );
    let shown = json(&["op", "show", op]);
    assert_eq!(shown["participants"][0]["answer"], "accept", "{shown}");
    assert_eq!(shown["participants"][1]["contact"], "NWCU intel desk");
    assert_eq!(shown["targets"][0]["held_elsewhere"][0]["peer"], "ZA-DFFE");
    // Checked through the API too: Britain holds nothing of the case but
    // the operation, and the board has every answer.
    let mut ke = fed.node("KE-KWS").client().await.expect("KE");
    let req = wildnet_proto::v1::OperationBoardRequest {
        id: op.clone(),
        ..Default::default()
    };
    let board = ke.get_operation(req).await.expect("board").into_inner();
    let answers: Vec<(&str, &str)> = board
        .participants
        .iter()
        .map(|p| (p.agency.as_str(), p.answer.as_str()))
        .collect();
    assert_eq!(
        answers,
        vec![("ZA-DFFE", "accept"), ("GB-NWCU", "tentative")]
    );
    let mut gb = fed.node("GB-NWCU").client().await.expect("GB");
    let q = wildnet_proto::v1::QueryRequest {
        selector: "phone:+254722333444".into(),
        ..Default::default()
    };
    let held = gb.query(q).await.expect("query").into_inner().records;
    let kinds: Vec<String> = held
        .iter()
        .filter_map(|r| r.signed.as_ref())
        .map(|s| {
            let b: wildnet_proto::v1::RecordBody =
                prost::Message::decode(s.body.as_slice()).expect("body");
            wildnet_node::record::kind_of(&b).to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        vec!["operation_proposal"],
        "only the operation reached Britain"
    );
    fed.stop().await.expect("stop");
}
