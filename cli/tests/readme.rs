//! The README cannot drift from the CLI: every `wildnet …` line in its
//! `sh` blocks parses with the real command-line definition (subcommands,
//! flags, values), and every `sh` block says which test runs it or why
//! none does (`<!-- run by: … -->`, `<!-- not run: … -->` on the line
//! before the block). The walk-through block is run line by line by
//! `tests/tests/e2e/walkthrough.rs`, the demo by `demo.rs`.

use clap::Parser;
use wildnet_cli::Cli;

const README: &str = include_str!("../../README.md");

/// The `sh` blocks with the line just before each.
fn blocks() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = README.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "```sh" {
            let before = lines[..i].iter().rev().find(|l| !l.trim().is_empty());
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim() == "```")
                .expect("every block closes");
            out.push((
                before.map(|l| l.trim().to_string()).unwrap_or_default(),
                lines[i + 1..end].join("\n"),
            ));
            i = end;
        }
        i += 1;
    }
    out
}

/// Shell lines of a block: continuations joined, comments kept out.
fn commands(block: &str) -> Vec<Vec<String>> {
    let joined = block.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches("$ ");
            let words = shlex::split(l)?;
            let cut = words
                .iter()
                .position(|w| {
                    ["|", ">", ">>", "&", "&&", ";", "2>&1"].contains(&w.as_str())
                        || w.starts_with('#')
                })
                .unwrap_or(words.len());
            let words: Vec<String> = words[..cut].to_vec();
            (words.first().map(String::as_str) == Some("wildnet")).then_some(words)
        })
        .collect()
}

#[test]
fn every_sh_block_says_how_it_is_checked() {
    let blocks = blocks();
    assert!(blocks.len() >= 5, "the README has its shell blocks");
    for (before, body) in &blocks {
        assert!(
            before.starts_with("<!-- run by: ") || before.starts_with("<!-- not run: "),
            "this block has no <!-- run by: … --> or <!-- not run: … --> line before it:\n{body}"
        );
        // Every file the line names exists: a renamed test cannot leave a
        // stale promise behind.
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let e2e = root.join("tests/tests/e2e");
        let mut named = 0;
        for word in before.split_whitespace() {
            let file = word.trim_matches(|c: char| ",;()".contains(c));
            if file.ends_with(".rs") || file == ".ci/run" {
                let exists = root.join(file).exists() || e2e.join(file).exists();
                assert!(
                    exists,
                    "{file} (named before a README block) does not exist"
                );
                named += 1;
            }
        }
        if before.starts_with("<!-- run by: ") {
            assert!(
                named > 0,
                "a run-by line names the test that runs the block: {before}"
            );
        }
    }
}

#[test]
fn every_wildnet_line_parses() {
    let mut checked = 0;
    for (_, body) in blocks() {
        for words in commands(&body) {
            if let Err(e) = Cli::try_parse_from(&words) {
                use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
                if !matches!(e.kind(), DisplayHelp | DisplayVersion) {
                    panic!("README line `{}` does not parse:\n{e}", words.join(" "));
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} wildnet lines found");
}

/// Every test the security section cites (`module::test`) exists where
/// its path says: the README cannot claim a guarantee whose test was
/// renamed, moved or removed.
#[test]
fn every_test_the_security_section_cites_exists() {
    let start = README
        .find("## Security and reliability")
        .expect("the security section");
    let section = &README[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["node/src", "cli/src", "tests/tests", "tests/src"] {
        collect_rs(&root.join(dir), &mut files);
    }
    let mut cited = 0;
    for token in section.split('`').skip(1).step_by(2) {
        let looks_like_test = token.contains("::")
            && token
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':');
        if !looks_like_test {
            continue;
        }
        let segments: Vec<&str> = token.split("::").collect();
        let (name, modules) = segments.split_last().expect("segments");
        // Every module named is a directory or the file's stem on the
        // path (`tests` may be an inline module); the test is a function
        // in that file, or the last segment is the file itself.
        let found = files.iter().any(|(path, text)| {
            let parts: Vec<&str> = path
                .iter()
                .filter_map(|c| c.to_str())
                .map(|c| c.trim_end_matches(".rs"))
                .collect();
            let on_path = modules.iter().all(|m| *m == "tests" || parts.contains(m));
            on_path && (text.contains(&format!("fn {name}(")) || parts.last() == Some(name))
        });
        assert!(
            found,
            "the README cites `{token}`, which is not a test at that path"
        );
        cited += 1;
    }
    assert!(cited >= 20, "only {cited} tests cited");
}

fn collect_rs(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_rs(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).expect("read");
            out.push((p, text));
        }
    }
}
