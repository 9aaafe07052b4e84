//! One bounded wait that names what it waited for and what it saw last,
//! and the conditions federations are usually waited on. Conditions are
//! polled; nothing sleeps a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;
use tonic::transport::Channel;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;

/// How long the usual conditions may take in tests.
pub const DEFAULT: Duration = Duration::from_secs(30);

/// A bounded wait: each [`Deadline::tick`] sleeps a little (backing off
/// to 50 ms) or, once `timeout` has passed, fails naming what was awaited
/// and what was seen last.
#[derive(Debug)]
pub struct Deadline {
    what: String,
    start: Instant,
    timeout: Duration,
    pause: Duration,
    max_pause: Duration,
}

impl Deadline {
    /// Starts waiting for `what`.
    pub fn new(what: impl Into<String>, timeout: Duration) -> Deadline {
        Deadline {
            what: what.into(),
            start: Instant::now(),
            timeout,
            pause: Duration::from_millis(5),
            max_pause: Duration::from_millis(50),
        }
    }

    /// Looks every `pause`, without backing off (to catch a moment).
    pub fn every(mut self, pause: Duration) -> Deadline {
        self.pause = pause;
        self.max_pause = pause;
        self
    }

    /// Since the wait began.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Sleeps before the next look, or fails with `seen` once time is up.
    pub async fn tick(&mut self, seen: impl std::fmt::Display) -> anyhow::Result<()> {
        if self.start.elapsed() > self.timeout {
            bail!(
                "timed out after {:?} waiting for {}; last seen: {seen}",
                self.timeout,
                self.what
            );
        }
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(self.max_pause);
        Ok(())
    }
}

/// Polls `check` until it returns `Ok(Some(v))` (`Ok(None)` keeps waiting,
/// an `Err` stops at once); fails after `timeout` naming `what`.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let mut d = Deadline::new(what, timeout);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        d.tick("not yet").await?;
    }
}

/// [`until`] for synchronous checks (a blocking caller).
pub fn until_blocking<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Until the node reports each of `peers` in `state` (`authenticated`:
/// the links are up).
pub async fn peer_state(
    c: &AgencyClient<Channel>,
    peers: &[&str],
    state: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut d = Deadline::new(format!("peers {peers:?} {state}"), timeout);
    let mut c = c.clone();
    loop {
        let p = c.peers(pb::PeersRequest {}).await?.into_inner();
        let ok = peers
            .iter()
            .all(|id| p.peers.iter().any(|s| s.agency == *id && s.state == state));
        if ok {
            return Ok(());
        }
        d.tick(format!("{:?}", p.peers)).await?;
    }
}

/// Until the node has manifest `version` in force.
pub async fn manifest(
    c: &AgencyClient<Channel>,
    version: u64,
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut d = Deadline::new(format!("manifest version {version}"), timeout);
    let mut c = c.clone();
    loop {
        let v = c
            .peers(pb::PeersRequest {})
            .await?
            .into_inner()
            .manifest_version;
        if v == version {
            return Ok(());
        }
        d.tick(format!("version {v}")).await?;
    }
}

/// Until the node's cursor on `peer` reaches `head`; `progress` sees each
/// cursor on the way. Returns how long it took.
pub async fn caught_up(
    c: &AgencyClient<Channel>,
    peer: &str,
    head: u64,
    timeout: Duration,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Duration> {
    let mut d = Deadline::new(format!("{peer}'s feed position {head}"), timeout);
    let mut c = c.clone();
    loop {
        let r = c.peers(pb::PeersRequest {}).await?.into_inner();
        let p = r.peers.iter().find(|p| p.agency == peer);
        if let Some(p) = p {
            progress(p.cursor);
            if p.cursor >= head {
                return Ok(d.elapsed());
            }
        }
        let seen = p.map_or("no such peer".to_string(), |p| {
            format!("cursor {} ({})", p.cursor, p.last_error)
        });
        d.tick(seen).await?;
    }
}

/// Until every node holds at least `records`; `progress` sees the
/// slowest node's count on the way.
pub async fn converged(
    clients: &[AgencyClient<Channel>],
    records: u64,
    timeout: Duration,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<()> {
    let mut d = Deadline::new(format!("every node to hold {records} records"), timeout);
    loop {
        let mut least = u64::MAX;
        for c in clients {
            let held = c
                .clone()
                .stats(pb::StatsRequest::default())
                .await?
                .into_inner()
                .records;
            least = least.min(held);
        }
        progress(least);
        if least >= records {
            return Ok(());
        }
        d.tick(format!("the slowest holds {least}")).await?;
    }
}
