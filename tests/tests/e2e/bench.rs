//! `wildnet bench --quick` as a smoke test: it builds its own federation of
//! real nodes, completes, and prints every figure. No figure is judged here
//! (speed is the benchmark's business, not the test suite's).

use std::collections::BTreeSet;
use std::process::Command;

/// Runs `wildnet bench ARGS --format json` in a fresh temp dir (named
/// `prefix…`); its JSON report, once it exited 0, and the dir.
fn bench(prefix: &str, args: &[&str]) -> (serde_json::Value, tempfile::TempDir) {
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tmp");
    let out = Command::new(wildnet_tests::bin("wildnet"))
        .arg("bench")
        .args(args)
        .args(["--format", "json", "--dir"])
        .arg(tmp.path())
        .output()
        .expect("run wildnet bench");
    assert!(
        out.status.success(),
        "wildnet bench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).expect("json"), tmp)
}

#[test]
fn bench_quick_completes_and_prints_every_figure() {
    let (v, tmp) = bench("wnbench", &["--quick"]);
    let figures = v["figures"].as_array().expect("figures");
    let areas: BTreeSet<&str> = figures.iter().filter_map(|f| f["area"].as_str()).collect();
    assert_eq!(
        areas,
        ["ingest", "limit", "query", "resources", "sync"]
            .into_iter()
            .collect()
    );
    for want in [
        "Ed25519 verify, 1 core",
        "import (durable, batches)",
        "first page (100) by species + time range p99",
        "first page (100) by selector p99",
        "stats by species p99",
        "disk per record",
        "bytes the node stores per record (keys + values, all trees)",
        "sled raw disk per record for those bytes",
        "cold pull (verified, stored, indexed)",
        "live KE-KWS -> ZA-DFFE p99",
        "live KE-KWS -> ZA-DFFE -> GB-NWCU p99",
    ] {
        assert!(
            figures.iter().any(|f| f["measure"] == want),
            "no figure {want:?} in {v}"
        );
    }
    for f in figures {
        let x = f["value"].as_f64().expect("value");
        assert!(x.is_finite() && x > 0.0, "figure without a value: {f}");
    }
    // Ratios are against limits measured in the same run.
    for measured in ["cold pull (verified, stored, indexed)", "disk per record"] {
        assert!(
            figures
                .iter()
                .any(|f| f["measure"] == measured && f["ratio"].as_f64().is_some_and(|r| r > 0.0)),
            "{measured} has no same-run ratio"
        );
    }
    // The throw-away federation is removed afterwards.
    assert_eq!(std::fs::read_dir(tmp.path()).expect("dir").count(), 0);
}

#[test]
fn bench_simulation_reports_both_topologies() {
    let (v, _tmp) = bench("wnsim", &["--quick", "--simulate", "4"]);
    let figures = v["figures"].as_array().expect("figures");
    for topology in ["full mesh", "hub-and-spoke"] {
        let of = |what: &str| {
            figures
                .iter()
                .find(|f| {
                    f["measure"]
                        .as_str()
                        .is_some_and(|m| m.starts_with(topology) && m.contains(what))
                })
                .and_then(|f| f["value"].as_f64())
                .unwrap_or_else(|| panic!("no {topology} {what} in {v}"))
        };
        assert!(of("convergence") > 0.0);
        assert!(of("per record published") > 0.0);
        // Every delivery arrived in full at least once (a copy, fetched
        // or streamed).
        assert!(of("copies received per record delivered") >= 1.0);
        // The busiest node dials and accepts every other in both
        // topologies (the hub); in hub-and-spoke the spokes have 2.
        assert_eq!(of("connections of the busiest node"), 6.0);
        let mean = if topology == "full mesh" { 6.0 } else { 3.0 };
        assert_eq!(of("connections per node"), mean);
    }
}

/// `wildnet bench --load`, short: eight publishers and four queriers on one
/// node for three seconds while it syncs with two peers; it exits 0 only
/// with no error and every acknowledged record at all three nodes (it
/// fails the run otherwise), and reports each figure.
#[test]
fn bench_load_completes_with_no_error_and_no_loss() {
    let (v, _tmp) = bench(
        "wnload",
        &[
            "--load",
            "--quick",
            "--secs",
            "3",
            "--publishers",
            "8",
            "--queriers",
            "4",
        ],
    );
    let figures = v["figures"].as_array().expect("figures");
    let value = |m: &str| {
        figures
            .iter()
            .find(|f| f["measure"].as_str().is_some_and(|x| x.starts_with(m)))
            .and_then(|f| f["value"].as_f64())
            .unwrap_or_else(|| panic!("no figure {m:?} in {v}"))
    };
    assert!(value("acknowledged records, all held by all 3 nodes") > 0.0);
    assert!(value("publishes, 8 clients") > 0.0);
    assert!(value("query latency p99") > 0.0);
    assert!(value("node RSS peak under load") > 0.0);
}
