//! Crash safety over many rounds, and backup and restore: a node of a
//! three-agency federation (real `wildnet-node` processes) is SIGKILLed
//! at a random moment during an import, during publishes from several
//! clients, or while it pulls from its two peers; after each restart every
//! acknowledged record is there and verifies, and `wildnet admin check`
//! finds signatures, ids, index, counters and the audit chain in
//! agreement. At the end the three nodes converge with no record missing
//! or doubled, which they cannot if a cursor ran ahead of stored data.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wildnet_proto::v1 as pb;
use wildnet_proto::v1::agency_client::AgencyClient;
use wildnet_testbed::{FedSpec, Federation, Kind, drafts};
use wildnet_tests::bin;

const AGENCIES: [&str; 3] = ["KE-KWS", "ZA-DFFE", "GB-NWCU"];
const ROUNDS: u64 = 21;

type Client = AgencyClient<tonic::transport::Channel>;

/// A small xorshift generator: the moments are random, the seed printed
/// so a failing run can be replayed (`WILDNET_CRASH_SEED`).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn note(text: String) -> pb::PublishRequest {
    drafts::note_with(&text, &[], drafts::federation_wide())
}

async fn records(c: &Client) -> u64 {
    let r = c.clone().stats(pb::StatsRequest::default()).await;
    r.map(|r| r.into_inner().records).unwrap_or(0)
}

/// Listings held: only the imports make them (publishes and peers make
/// notes, which may still arrive by pull during an import round).
async fn listings(c: &Client) -> u64 {
    let r = c
        .clone()
        .stats(pb::StatsRequest { by: "kind".into() })
        .await;
    r.map(|r| {
        let r = r.into_inner();
        r.buckets
            .iter()
            .find(|b| b.key == "listing")
            .map_or(0, |b| b.count)
    })
    .unwrap_or(0)
}

/// Publishes from `workers` clients until the node stops answering;
/// returns the acknowledged ids.
fn publishers(
    c: &Client,
    round: u64,
    workers: u64,
) -> (Arc<Mutex<Vec<String>>>, Vec<tokio::task::JoinHandle<()>>) {
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let tasks = (0..workers)
        .map(|w| {
            let (mut c, acked) = (c.clone(), acked.clone());
            tokio::spawn(async move {
                for n in 0u64.. {
                    match c
                        .publish(note(format!("round {round} worker {w} note {n}")))
                        .await
                    {
                        Ok(r) => acked.lock().expect("lock").push(r.into_inner().id),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    (acked, tasks)
}

/// Waits until `c` holds at least `n` records (`listings`: of them only)
/// or `limit` passes: the kill then comes at that moment instead.
async fn until_holds(c: &Client, n: u64, limit: Duration) {
    until_counted(c, n, limit, false).await;
}

async fn until_counted(c: &Client, n: u64, limit: Duration, only_listings: bool) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let held = if only_listings {
            listings(c).await
        } else {
            records(c).await
        };
        if held >= n || std::time::Instant::now() >= deadline {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn check(c: &Client, round: u64) -> pb::CheckResponse {
    let r = c
        .clone()
        .check(pb::CheckRequest {})
        .await
        .expect("check")
        .into_inner();
    assert!(
        r.problems.is_empty(),
        "round {round}: the check found {:?}",
        r.problems
    );
    r
}

async fn all_present(c: &Client, ids: &[String], round: u64) {
    for id in ids {
        let r = c.clone().get(pb::GetRequest { id: id.clone() }).await;
        let r = r.unwrap_or_else(|e| panic!("round {round}: acknowledged {id} lost: {e}"));
        assert_eq!(r.into_inner().record.expect("record").signature, "valid");
    }
}

/// One round of imports: a CLI import killed with the node; the same file
/// imported again completes the set with no duplicate stored. True when
/// the kill cut the import short.
async fn import_round(fed: &mut Federation, rng: &mut Rng, round: u64) -> bool {
    let dir = fed.nodes[0].dir.clone();
    let file = dir.join(format!("round{round}.csv"));
    let csv = std::process::Command::new(bin("wildnet"))
        .args(["generate", "listings", "--count", "1500", "--seed"])
        .arg(round.to_string())
        .output()
        .expect("generate");
    std::fs::write(&file, csv.stdout).expect("write csv");
    let c = fed.nodes[0].client().await.expect("client");
    let base = listings(&c).await;
    let mut import = std::process::Command::new(bin("wildnet"))
        .arg("--node")
        .arg(&dir)
        .arg("import")
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("import");
    until_counted(
        &c,
        base + 1 + rng.below(1200),
        Duration::from_secs(20),
        true,
    )
    .await;
    fed.nodes[0].kill().expect("kill");
    let _ = import.wait();
    fed.nodes[0].start_process().expect("restart");
    let c = fed.nodes[0].client().await.expect("client");
    check(&c, round).await;
    let cut = listings(&c).await < base + 1500;
    let out = std::process::Command::new(bin("wildnet"))
        .arg("--node")
        .arg(&dir)
        .args(["--format", "json", "import"])
        .arg(&file)
        .output()
        .expect("import again");
    assert!(
        out.status.success(),
        "round {round}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sum: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let (acc, dup) = (sum["accepted"].as_u64(), sum["duplicates"].as_u64());
    assert_eq!(
        acc.zip(dup).map(|(a, d)| a + d),
        Some(1500),
        "round {round}: {sum}"
    );
    assert_eq!(
        listings(&c).await,
        base + 1500,
        "round {round}: each row once"
    );
    cut
}

/// One round of publishes from three clients, killed after a random
/// number of acknowledgements.
async fn publish_round(fed: &mut Federation, rng: &mut Rng, round: u64) {
    let c = fed.nodes[0].client().await.expect("client");
    let base = records(&c).await;
    let (acked, tasks) = publishers(&c, round, 3);
    until_holds(&c, base + 1 + rng.below(150), Duration::from_secs(20)).await;
    fed.nodes[0].kill().expect("kill");
    restart_and_verify(fed, acked, tasks, round).await;
}

/// After the kill: waits for the publishers to see it, restarts the node
/// and checks every acknowledged record and the store.
async fn restart_and_verify(
    fed: &mut Federation,
    acked: Arc<Mutex<Vec<String>>>,
    publishers: Vec<tokio::task::JoinHandle<()>>,
    round: u64,
) {
    for t in publishers {
        t.await.expect("publisher");
    }
    fed.nodes[0].start_process().expect("restart");
    let c = fed.nodes[0].client().await.expect("client");
    let acked = acked.lock().expect("lock").clone();
    all_present(&c, &acked, round).await;
    check(&c, round).await;
}

/// One round of sync: both peers publish while the node pulls from them
/// (and publishes itself); killed after a random number of arrivals.
async fn sync_round(fed: &mut Federation, rng: &mut Rng, round: u64) {
    let c = fed.nodes[0].client().await.expect("client");
    let base = records(&c).await;
    let mut peer_tasks = Vec::new();
    for p in &fed.nodes[1..] {
        let pc = p.client().await.expect("peer client");
        let (_, tasks) = publishers(&pc, round, 1);
        // Each peer publishes 60 records, then stops.
        let pc2 = pc.clone();
        let start = records(&pc2).await;
        peer_tasks.push((tasks, pc2, start));
    }
    let (acked, own) = publishers(&c, round, 1);
    until_holds(&c, base + 1 + rng.below(100), Duration::from_secs(20)).await;
    fed.nodes[0].kill().expect("kill");
    for (tasks, pc, start) in peer_tasks {
        until_holds(&pc, start + 60, Duration::from_secs(20)).await;
        tasks.into_iter().for_each(|t| t.abort());
    }
    restart_and_verify(fed, acked, own, round).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_rounds_lose_nothing_acknowledged_and_peers_converge() {
    let seed = std::env::var("WILDNET_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64 | 1);
    eprintln!("crash rounds: WILDNET_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let spec = FedSpec::new(&AGENCIES);
    let mut fed = Federation::start(&spec, Kind::Process)
        .await
        .expect("federation");
    fed.wait_peer_state("KE-KWS", &AGENCIES[1..], "authenticated")
        .await
        .expect("links");
    let mut cut = 0;
    for round in 0..ROUNDS {
        match round % 3 {
            0 => cut += u64::from(import_round(&mut fed, &mut rng, round).await),
            1 => publish_round(&mut fed, &mut rng, round).await,
            _ => sync_round(&mut fed, &mut rng, round).await,
        }
    }
    assert!(
        cut > 0,
        "no import was cut short by its kill: nothing was tested"
    );
    // Every node ends with every federation-wide record once: KE's own
    // imports are agency-local, so compare what each authored and shares.
    let mut clients = Vec::new();
    for n in &fed.nodes {
        clients.push(n.client().await.expect("client"));
    }
    let mut shared = 0;
    for (c, a) in clients.iter().zip(AGENCIES) {
        shared += shared_by(c, a).await;
    }
    wildnet_testbed::wait::until(
        "every node to hold every shared record",
        Duration::from_secs(120),
        || {
            let clients = clients.clone();
            async move {
                let mut held = Vec::new();
                for c in &clients {
                    held.push(shared_held(c).await);
                }
                Ok(held.iter().all(|h| *h == shared).then_some(()))
            }
        },
    )
    .await
    .expect("convergence");
    for (i, c) in clients.iter().enumerate() {
        check(c, ROUNDS + i as u64).await;
    }
    fed.stop().await.expect("stop");
}

/// Federation-wide notes `author` holds of its own (counted by paging).
async fn shared_by(c: &Client, author: &str) -> u64 {
    let (mut n, mut token) = (0, String::new());
    loop {
        let q = pb::QueryRequest {
            kind: "note".into(),
            author: author.into(),
            limit: 1000,
            page_token: token,
            ..Default::default()
        };
        let r = c.clone().query(q).await.expect("query").into_inner();
        n += r.records.len() as u64;
        if r.next_page_token.is_empty() {
            return n;
        }
        token = r.next_page_token;
    }
}

/// Federation-wide notes held, of any author (the stats counter).
async fn shared_held(c: &Client) -> u64 {
    let r = c
        .clone()
        .stats(pb::StatsRequest { by: "kind".into() })
        .await
        .expect("stats")
        .into_inner();
    r.buckets
        .iter()
        .find(|b| b.key == "note")
        .map_or(0, |b| b.count)
}
