//! The `wildnet-node` binary's own edges (also makes `cargo test` build it
//! for the end-to-end suite in `tests/`).

use std::process::Command;

/// A missing config file is an error that names the file.
#[test]
fn missing_config_names_the_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_wildnet-node"))
        .args(["--config", "/nonexistent/node.toml"])
        .output()
        .expect("run wildnet-node");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/node.toml"), "{err}");
}
