//! Test harness: real `wildnet-node` processes on temp dirs, driven through
//! the real `wildnet` CLI and a gRPC client over the node's Unix socket.
//!
//! The binaries are the ones `cargo test --workspace` builds next to the
//! test executable (`target/<profile>/`): the node and CLI crates have
//! integration tests of their own, which makes cargo build their binaries.

pub mod fed;
pub mod rogue;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tonic::transport::Channel;
use wildnet_proto::v1::agency_client::AgencyClient;

/// Path of a workspace binary built for this test run.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is not built: run the suite with `cargo test --workspace` (it builds the binaries) or run `cargo build --bins` first",
        p.display()
    );
    p
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// One agency node process in its own temp dir.
pub struct TestNode {
    /// Keeps the temp dir alive.
    pub tmp: TempDir,
    /// The agency dir made by `wildnet init`.
    pub dir: PathBuf,
    /// The agency id.
    pub agency: String,
    child: Option<Child>,
    log: PathBuf,
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
        let log = tmp.path().join("node.log");
        TestNode {
            tmp,
            dir,
            agency: agency.to_string(),
            child: None,
            log,
        }
    }

    /// Adds a loopback TCP listener on an OS-assigned port to node.toml.
    pub fn with_tcp(self) -> TestNode {
        let cfg = self.config();
        let text = std::fs::read_to_string(&cfg).expect("read node.toml");
        let text = text.replace("# tcp = \"127.0.0.1:7401\"", "tcp = \"127.0.0.1:0\"");
        std::fs::write(&cfg, text).expect("write node.toml");
        self
    }

    /// The config file.
    pub fn config(&self) -> PathBuf {
        self.dir.join("node.toml")
    }

    /// The Agency socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("data").join("wildnet.sock")
    }

    /// Starts `wildnet-node` and waits until its socket accepts connections.
    pub fn start(&mut self) -> &mut Self {
        assert!(self.child.is_none(), "node already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open node log");
        let child = Command::new(bin("wildnet-node"))
            .arg("--config")
            .arg(self.config())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn wildnet-node");
        self.child = Some(child);
        let socket = self.socket();
        wait_for("the node socket", Duration::from_secs(30), || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "wildnet-node exited early with {status}:\n{}",
                    self.log_text()
                );
            }
            std::os::unix::net::UnixStream::connect(&socket)
                .ok()
                .map(|_| ())
        });
        self
    }

    /// The node's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id of the running node.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("node running").id()
    }

    fn signal(&mut self, sig: &str) -> ExitStatus {
        let mut child = self.child.take().expect("node running");
        let ok = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill {sig} failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                return st;
            }
            assert!(Instant::now() < deadline, "node did not exit after {sig}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        self.signal("-KILL");
    }

    /// SIGTERM: graceful shutdown; returns the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal("-TERM")
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

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
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
