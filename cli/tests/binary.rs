//! The `wildnet` binary's own edges (also makes `cargo test` build it for
//! the end-to-end suite in `tests/`).

use std::process::Command;

/// Without a reachable node, commands say how to point at one.
#[test]
fn no_node_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_wildnet"))
        .current_dir(dir.path())
        .env_remove("WILDNET_NODE")
        .args(["query"])
        .output()
        .expect("run wildnet");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--node"), "{err}");
}

/// `generate listings` writes a header and the requested rows, deterministically.
#[test]
fn generate_is_deterministic() {
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_wildnet"))
            .args(["generate", "listings", "--count", "25", "--seed", "9"])
            .output()
            .expect("run wildnet")
    };
    let (a, b) = (run(), run());
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(String::from_utf8_lossy(&a.stdout).lines().count(), 26);
}
