//! One handle for a node, run in this process (`server::run_with` on a
//! tokio task, with a pre-bound Federation listener) or as a child
//! `wildnet-node` process. Either way: real sled store, real keys, real
//! mutual TLS on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use wildnet_node::layout;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

/// How a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// On a task of this process.
    InProcess,
    /// As a child `wildnet-node` process.
    Process,
}

enum Run {
    Stopped,
    InProcess {
        stop: oneshot::Sender<()>,
        task: JoinHandle<anyhow::Result<()>>,
    },
    Process(Child),
}

/// A node of a throw-away federation (or a lone agency).
pub struct Node {
    /// Agency id.
    pub agency: String,
    /// Agency dir.
    pub dir: PathBuf,
    /// Federation address, once federated.
    pub addr: Option<SocketAddr>,
    /// `RUST_LOG` of a child process (default `info`).
    pub log_level: String,
    run: Run,
    last: Option<Kind>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("agency", &self.agency)
            .field("dir", &self.dir)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// How long a node may take to start.
const START: Duration = Duration::from_secs(300);

impl Node {
    /// A handle for the agency dir `dir`; nothing runs yet.
    pub fn new(agency: &str, dir: &Path) -> Node {
        Node {
            agency: agency.to_string(),
            dir: dir.to_path_buf(),
            addr: None,
            log_level: "info".into(),
            run: Run::Stopped,
            last: None,
        }
    }

    /// The Agency API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join(layout::DATA_DIR).join(layout::SOCKET_NAME)
    }

    /// The bound address of the node's HTTP listener, while it runs with
    /// one (`[http] listen`).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        let file = self
            .dir
            .join(layout::DATA_DIR)
            .join(wildnet_node::http::HTTP_ADDR_FILE);
        std::fs::read_to_string(file).ok()?.trim().parse().ok()
    }

    /// A child process's log (stderr), appended across restarts.
    pub fn log(&self) -> PathBuf {
        self.dir.join("node.log")
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// Whether it runs.
    pub fn is_running(&self) -> bool {
        !matches!(self.run, Run::Stopped)
    }

    /// Starts a child `wildnet-node`; returns once its socket accepts
    /// connections, with how long that took.
    pub fn start_process(&mut self) -> anyhow::Result<Duration> {
        if self.is_running() {
            bail!("{} is already running", self.agency);
        }
        let exe = node_binary()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .with_context(|| format!("cannot open {}", self.log().display()))?;
        let started = Instant::now();
        let mut child = Command::new(&exe)
            .arg("--config")
            .arg(self.dir.join(layout::CONFIG_FILE))
            .env("RUST_LOG", &self.log_level)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot run {}", exe.display()))?;
        let socket = self.socket();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited with {status} at start-up:\n{}",
                    self.agency,
                    self.log_text()
                );
            }
            if started.elapsed() > START {
                let _ = child.kill();
                bail!("{} did not start within {START:?}", self.agency);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.run = Run::Process(child);
        self.last = Some(Kind::Process);
        Ok(started.elapsed())
    }

    /// Starts the node on a task of this process, with `listener` as its
    /// Federation listener (`None`: bind its own address again, if any).
    pub async fn start_in_process(
        &mut self,
        listener: Option<tokio::net::TcpListener>,
    ) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("{} is already running", self.agency);
        }
        let listener = match (listener, self.addr) {
            (Some(l), _) => Some(l),
            (None, Some(a)) => Some(
                tokio::net::TcpListener::bind(a)
                    .await
                    .with_context(|| format!("cannot bind {a} again"))?,
            ),
            (None, None) => None,
        };
        if let Some(l) = &listener {
            self.addr = Some(l.local_addr()?);
        }
        let cfg = self.dir.join(layout::CONFIG_FILE);
        let settings = wildnet_node::config::Settings::load(&cfg)?;
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(wildnet_node::server::run_with(
            settings,
            wildnet_node::server::Listeners {
                federation: listener,
            },
            async move {
                let _ = rx.await;
            },
        ));
        let socket = self.socket();
        let deadline = Instant::now() + START;
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if task.is_finished() {
                let why = task.await.unwrap_or_else(|e| Err(e.into()));
                bail!("{} stopped during start-up: {why:?}", self.agency);
            }
            if Instant::now() > deadline {
                bail!("{} did not start within {START:?}", self.agency);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.run = Run::InProcess { stop, task };
        self.last = Some(Kind::InProcess);
        Ok(())
    }

    /// The Agency client over the node's socket.
    pub async fn client(&self) -> anyhow::Result<AgencyClient<Channel>> {
        wildnet_node::client::Target::Unix(self.socket())
            .connect()
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.agency))
    }

    /// Peer states as the node reports them.
    pub async fn peers(&self) -> anyhow::Result<pb::PeersResponse> {
        Ok(self
            .client()
            .await?
            .peers(pb::PeersRequest {})
            .await?
            .into_inner())
    }

    /// The node's audit entries.
    pub async fn audit(&self) -> anyhow::Result<Vec<pb::AuditEntry>> {
        let req = pb::AuditListRequest {
            since: 1,
            limit: 10_000,
        };
        Ok(self
            .client()
            .await?
            .audit_list(req)
            .await?
            .into_inner()
            .entries)
    }

    /// Stops gracefully: the in-process node's shutdown future, or SIGTERM
    /// to the process; waits until it is down.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        match std::mem::replace(&mut self.run, Run::Stopped) {
            Run::Stopped => Ok(()),
            Run::InProcess { stop, task } => {
                let _ = stop.send(());
                task.await.context("the node task panicked")?
            }
            Run::Process(mut child) => {
                send(&child, "-TERM")?;
                let deadline = Instant::now() + Duration::from_secs(60);
                let st = loop {
                    if let Some(st) = child.try_wait()? {
                        break st;
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        bail!("{} did not exit within a minute of SIGTERM", self.agency);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                };
                if !st.success() {
                    bail!("{} exited with {st} after SIGTERM", self.agency);
                }
                Ok(())
            }
        }
    }

    /// SIGTERM to a child process and its exit status (blocking).
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        self.signal("-TERM")
    }

    /// SIGKILL to a child process (no chance to flush or clean up), or an
    /// abort of the in-process task.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        match &self.run {
            Run::InProcess { task, .. } => {
                task.abort();
                self.run = Run::Stopped;
                Ok(())
            }
            Run::Process(_) => self.signal("-KILL").map(|_| ()),
            Run::Stopped => Ok(()),
        }
    }

    /// Stops and starts it again the way it last ran, on the same address.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        match self.last {
            Some(Kind::Process) => self.start_process().map(|_| ()),
            _ => self.start_in_process(None).await,
        }
    }

    /// Lets a child process run on after this handle is dropped (a demo
    /// left running for the user); returns its pid.
    pub fn detach(&mut self) -> Option<u32> {
        let pid = self.pid();
        if pid.is_some() {
            // Dropping a `Child` neither kills nor waits for it.
            self.run = Run::Stopped;
        }
        pid
    }

    /// The child's process id, when it runs as one.
    pub fn pid(&self) -> Option<u32> {
        match &self.run {
            Run::Process(c) => Some(c.id()),
            _ => None,
        }
    }

    /// The child process's resident set size, bytes (Linux /proc).
    pub fn rss(&self) -> u64 {
        self.pid().map_or(0, rss_of)
    }

    fn signal(&mut self, sig: &str) -> anyhow::Result<ExitStatus> {
        let Run::Process(mut child) = std::mem::replace(&mut self.run, Run::Stopped) else {
            bail!("{} is not running as a process", self.agency);
        };
        send(&child, sig)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(st) = child.try_wait()? {
                return Ok(st);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{} did not exit within a minute of {sig}", self.agency);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Node {
    /// A test or run that fails half-way still stops its nodes.
    fn drop(&mut self) {
        match std::mem::replace(&mut self.run, Run::Stopped) {
            Run::InProcess { stop, .. } => {
                let _ = stop.send(());
            }
            Run::Process(mut c) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            Run::Stopped => {}
        }
    }
}

fn send(child: &Child, sig: &str) -> anyhow::Result<()> {
    Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .context("cannot run kill")?;
    Ok(())
}

/// `wildnet-node`: next to the running executable (the `wildnet` CLI in
/// target/<profile>/) or one folder up (a test in target/<profile>/deps/).
pub fn node_binary() -> anyhow::Result<PathBuf> {
    binary("wildnet-node")
}

/// A workspace binary built next to the running executable.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find the running executable")?;
    let here = me.with_file_name(name);
    if here.exists() {
        return Ok(here);
    }
    if let Some(up) = me.parent().and_then(Path::parent).map(|d| d.join(name))
        && up.exists()
    {
        return Ok(up);
    }
    bail!(
        "{} not found: build the binaries (cargo build --release, or cargo test --workspace builds them) and run from target/<profile>",
        here.display()
    )
}

/// The resident set size of process `pid`, bytes (Linux /proc; 0 when
/// it cannot be read).
pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
