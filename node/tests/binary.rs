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

/// The systemd unit in `contrib/` runs this binary with flags it has, and
/// keeps the hardening the operations guide promises.
#[test]
fn the_systemd_unit_runs_the_node_hardened() {
    let unit = include_str!("../../contrib/wildnet-node.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
    assert_eq!(args.first(), Some(&"--config"), "{exec}");
    let help = Command::new(env!("CARGO_BIN_EXE_wildnet-node"))
        .arg("--help")
        .output()
        .expect("run wildnet-node --help");
    assert!(String::from_utf8_lossy(&help.stdout).contains("--config"));
    for key in [
        "User=wildnet",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/wildnet/ke",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "UMask=0077",
        "KillSignal=SIGTERM",
    ] {
        assert!(unit.lines().any(|l| l == key), "the unit lacks {key}");
    }
}
