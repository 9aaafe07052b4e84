//! The layers of `node/src` run one way: a module may use only modules
//! that `lib.rs` declares above it. This reads every source file, resolves
//! each `crate::…` and `super::…` path to the top-level module it names,
//! and fails on any arrow that points down the list (up a layer), naming
//! the file, the line and both modules. Test code (`tests.rs`, `tests/`
//! folders, and what follows `#[cfg(test)]` in a file) may use anything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level modules in the order `lib.rs` declares them.
fn layer_order(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    lib.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))?;
            Some(rest.trim_end_matches(';').trim().to_string())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "tests") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs")
            && p.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(p);
        }
    }
}

/// The module path of a file: `sync/links.rs` → `[sync, links]`,
/// `sync/mod.rs` → `[sync]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Identifiers that follow `::` at the start of `rest` (one, or each of
/// a `{…}` group's first segments).
fn first_segments(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    if let Some(group) = rest.strip_prefix('{') {
        let mut out = Vec::new();
        let mut depth = 0;
        let mut start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => start = true,
                c if start && !c.is_whitespace() => {
                    out.push(ident(&group[i..]));
                    start = false;
                }
                _ => {}
            }
        }
        out
    } else {
        vec![ident(rest)]
    }
}

/// The top-level modules that one line refers to.
fn referenced(line: &str, path: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = line[i..].find("crate::").map(|a| a + i) {
        let boundary = at == 0 || !line.as_bytes()[at - 1].is_ascii_alphanumeric();
        if boundary {
            out.extend(first_segments(&line[at + 7..]));
        }
        i = at + 7;
    }
    let mut i = 0;
    while let Some(at) = line[i..].find("super::").map(|a| a + i) {
        let boundary = at == 0 || !line.as_bytes()[at - 1].is_ascii_alphanumeric();
        if boundary {
            let mut rest = &line[at..];
            let mut base = path.to_vec();
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
            match base.first() {
                Some(top) => out.push(top.clone()),
                None => out.extend(first_segments(rest)),
            }
            i = at + (line.len() - at - rest.len());
        } else {
            i = at + 7;
        }
    }
    out
}

#[test]
fn every_arrow_runs_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let order = layer_order(&src);
    assert!(order.len() > 10, "lib.rs declares {order:?}");
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = BTreeSet::new();
    for file in &files {
        let path = module_path(&src, file);
        let Some(me) = path.first().filter(|m| rank(m).is_some()) else {
            continue; // lib.rs, main.rs
        };
        let text = std::fs::read_to_string(file).expect("read source");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            for used in referenced(line, &path) {
                let (Some(a), Some(b)) = (rank(me), rank(&used)) else {
                    continue; // crate-root items such as now_ms
                };
                if b > a {
                    wrong.insert(format!(
                        "{}:{}: {me} uses {used}, which lib.rs declares after it (a higher layer)",
                        file.strip_prefix(&src).unwrap_or(file).display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows running up a layer:\n{}",
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// The check itself sees what it must: grouped imports, `super` out of a
/// module folder, and not what it must not.
#[test]
fn references_are_resolved() {
    let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        referenced("use crate::{record::Record, storage::{A, B}};", &p(&["x"])),
        p(&["record", "storage"])
    );
    assert_eq!(
        referenced("use super::links::run;", &p(&["sync", "pull"])),
        p(&["sync"])
    );
    assert_eq!(referenced("super::node::Node", &p(&["sync"])), p(&["node"]));
    assert!(referenced("let supercrate::x = 1;", &p(&["sync"])).is_empty());
}
