//! Test harness: real `wildnet-node` processes on temp dirs, driven through
//! the real `wildnet` CLI and a gRPC client over the node's Unix socket.
//!
//! The binaries are the ones `cargo test --workspace` builds next to the
//! test executable (`target/<profile>/`): the node and CLI crates have
//! integration tests of their own, which makes cargo build their binaries.

pub mod fed;
pub mod fuzz;
pub mod rogue;
pub mod web;

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output};
use std::time::Duration;

use tempfile::TempDir;
use tonic::transport::Channel;
use wildnet_proto::v1::agency_client::AgencyClient;

/// Path of a workspace binary built for this test run.
pub fn bin(name: &str) -> PathBuf {
    wildnet_testbed::node::binary(name).unwrap_or_else(|e| panic!("{e}"))
}

/// Polls `check` until it returns `Some` or `timeout` passes (the
/// testbed's bounded wait, failing the test with what it waited for).
pub fn wait_for<T>(what: &str, timeout: Duration, check: impl FnMut() -> Option<T>) -> T {
    wildnet_testbed::wait::until_blocking(what, timeout, check).unwrap_or_else(|e| panic!("{e}"))
}

/// One agency node process in its own temp dir, created by the real
/// `wildnet init` and driven by the real CLI; the process is run by the
/// testbed's node handle.
pub struct TestNode {
    /// Keeps the dir alive.
    pub tmp: TempDir,
    /// The agency dir.
    pub dir: PathBuf,
    /// Agency id.
    pub agency: String,
    node: wildnet_testbed::Node,
}

impl TestNode {
    /// `wildnet init` a fresh agency dir (not started).
    pub fn init(agency: &str) -> TestNode {
        let tmp = tempfile::Builder::new()
            .prefix("wn")
            .tempdir()
            .expect("temp dir");
        let dir = tmp.path().join(agency.to_lowercase());
        let out = Command::new(bin("wildnet"))
            .args([
                "init",
                "--agency",
                agency,
                "--name",
                &format!("{agency} test agency"),
                "--dir",
            ])
            .arg(&dir)
            .output()
            .expect("run wildnet init");
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TestNode {
            node: wildnet_testbed::Node::new(agency, &dir),
            tmp,
            dir,
            agency: agency.to_string(),
        }
    }

    /// Adds a loopback TCP listener on an OS-assigned port to node.toml.
    pub fn with_tcp(self) -> TestNode {
        let mut cfg = wildnet_node::config::NodeToml::open(&self.config()).expect("node.toml");
        cfg.set_api_tcp("127.0.0.1:0");
        cfg.save().expect("write node.toml");
        self
    }

    /// The config file.
    pub fn config(&self) -> PathBuf {
        self.dir.join("node.toml")
    }

    /// The Agency socket.
    pub fn socket(&self) -> PathBuf {
        self.node.socket()
    }

    /// Starts `wildnet-node` and waits until its socket accepts connections.
    pub fn start(&mut self) -> &mut Self {
        if let Err(e) = self.node.start_process() {
            panic!("{e:#}");
        }
        self
    }

    /// The node's log so far.
    pub fn log_text(&self) -> String {
        self.node.log_text()
    }

    /// The process id of the running node.
    pub fn pid(&self) -> u32 {
        self.node.pid().expect("node running")
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        self.node.kill().expect("kill the node");
    }

    /// SIGTERM: graceful shutdown; returns the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.node.terminate().expect("stop the node")
    }

    /// Runs the CLI against this node.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(bin("wildnet"))
            .arg("--node")
            .arg(&self.dir)
            .args(args)
            .output()
            .expect("run wildnet")
    }

    /// Runs the CLI and returns stdout, failing with stderr if it failed.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "wildnet {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the CLI with `--format json` and parses stdout.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--format", "json"];
        a.extend_from_slice(args);
        let out = self.cli_ok(&a);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("wildnet {args:?} printed no JSON ({e}):\n{out}"))
    }

    /// A gRPC client over the Unix socket.
    pub async fn client(&self) -> AgencyClient<Channel> {
        wildnet_node::client::Target::Unix(self.socket())
            .connect()
            .await
            .expect("connect to node")
    }

    /// A raw channel over the Unix socket (for health and reflection).
    pub async fn channel(&self) -> Channel {
        wildnet_node::client::Target::Unix(self.socket())
            .channel()
            .await
            .expect("connect to node")
    }
}

/// Runs `wildnet --node DIR --format json ARGS` and parses stdout,
/// failing with stderr if it failed.
pub fn cli_json_at(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(bin("wildnet"))
        .arg("--node")
        .arg(dir)
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("run wildnet");
    assert!(
        out.status.success(),
        "wildnet {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// The uid of this process (from /proc, no unsafe code).
pub fn my_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("Uid line")
}
