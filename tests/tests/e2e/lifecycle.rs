//! The analyst's whole path on one node: publish, get, query by every
//! filter, bulk import with bad rows, restart, retract.

use serde_json::Value;
use wildnet_tests::TestNode;

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("query prints an array")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

fn query(node: &TestNode, args: &[&str]) -> Vec<String> {
    let mut a = vec!["query", "--limit", "100000"];
    a.extend_from_slice(args);
    ids(&node.cli_json(&a))
}

fn publish(node: &TestNode, args: &[&str]) -> String {
    let mut a = vec!["publish"];
    a.extend_from_slice(args);
    let v = node.cli_json(&a);
    assert_eq!(v["duplicate"], Value::Bool(false), "{v}");
    v["id"].as_str().expect("publish prints an id").to_string()
}

/// 10,000 generated rows plus five bad ones at known lines.
fn csv_with_bad_rows(node: &TestNode) -> (std::path::PathBuf, usize, Vec<u64>) {
    let generated = node.cli_ok(&["generate", "listings", "--count", "10000", "--seed", "7"]);
    let mut lines: Vec<String> = generated.lines().map(str::to_string).collect();
    let manis = lines
        .iter()
        .filter(|l| l.starts_with("Manis javanica,"))
        .count();
    let bad = [
        "Manis javanica,olx,https://olx.example/bad1,t,x,s,,ten,USD,1,part,KE,2026-01-01,amber,local,h0,,,",
        "Manis javanica,olx,https://olx.example/bad2,t,x,s,,10,USD,1,part,Kenya,2026-01-01,amber,local,h0,,,",
        "Manis javanica,,https://olx.example/bad3,t,x,s,,10,USD,1,part,KE,2026-01-01,amber,local,h0,,,",
        "Manis javanica,olx,https://olx.example/bad4,t,x,s,,10,USD,1,part,KE,2026-01-01,amber,local,h0,,phone:0712,",
        "Manis javanica,olx,https://olx.example/bad5,t,x,s,,10,USD,1,part,KE,2026-01-01,red,federation,h0,,,",
    ];
    // Insert after data lines 100, 2000, 4000, 6000, 8000 (line 1 is the header).
    let mut bad_lines = Vec::new();
    for (k, b) in bad.iter().enumerate() {
        let at = [100, 2000, 4000, 6000, 8000][k] + k;
        lines.insert(at, b.to_string());
        bad_lines.push(at as u64 + 1);
    }
    let path = node.tmp.path().join("listings.csv");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write csv");
    (path, manis, bad_lines)
}

/// publish → get → query by each filter → import 10,000 CSV rows with bad
/// rows → restart → all still there → retract → gone from queries.
#[test]
fn analyst_workflow_end_to_end() {
    let mut node = TestNode::init("KE-KWS");
    node.start();

    let pangolin = publish(
        &node,
        &[
            "listing",
            "--species",
            "manis javanica",
            "--platform",
            "Facebook",
            "--url",
            "https://facebook.com/marketplace/item/991/",
            "--title",
            "Pangolin scales 2kg",
            "--text",
            "genuine scales discreet shipping",
            "--seller",
            "@Scales.Trader",
            "--price",
            "450",
            "--currency",
            "usd",
            "--country",
            "ke",
            "--observed-at",
            "2026-11-20",
            "--selector",
            "phone:+254 712 345 678",
            "--tag",
            "Pangolin",
            "--tlp",
            "amber",
            "--share",
            "federation",
        ],
    );
    let rosewood = publish(
        &node,
        &[
            "listing",
            "--species",
            "Siamese rosewood",
            "--platform",
            "olx",
            "--url",
            "https://olx.example/rw/1",
            "--title",
            "Rosewood logs",
            "--seller",
            "woodking",
            "--price",
            "12000",
            "--currency",
            "THB",
            "--country",
            "TH",
            "--observed-at",
            "2026-11-21",
            "--tag",
            "timber",
        ],
    );
    let entity = publish(
        &node,
        &[
            "entity",
            "--type",
            "person",
            "--name",
            "J. Mwangi",
            "--nationality",
            "KE",
            "--selector",
            "phone:+254712345678",
            "--selector",
            "email:JM@Example.org",
        ],
    );
    let seizure = publish(
        &node,
        &[
            "seizure",
            "--date",
            "2026-11-02",
            "--country",
            "TH",
            "--place",
            "Suvarnabhumi airport",
            "--species",
            "Manis pentadactyla",
            "--weight-kg",
            "120.5",
            "--origin",
            "NG",
            "--transit",
            "ET",
            "--destination",
            "TH",
            "--entity",
            &entity,
            "--description",
            "scales in frozen fish boxes",
        ],
    );
    let note = publish(
        &node,
        &[
            "note",
            "--title",
            "Courier route",
            "--text",
            "Scales move via Addis courier hub",
            "--code",
            "h3",
            "--restrictions",
            "no court use",
        ],
    );

    // get by a 10-character prefix: the whole record, verified.
    let g = node.cli_json(&["get", &pangolin[..10]]);
    assert_eq!(g["id"], Value::from(pangolin.clone()));
    assert_eq!(g["author"], "KE-KWS");
    assert_eq!(g["kind"], "listing");
    assert_eq!(g["signature"], "valid");
    assert_eq!(g["handling"]["tlp"], "AMBER");
    assert_eq!(g["handling"]["scope"], "FEDERATION");
    assert_eq!(g["species"]["scientific_name"], "Manis javanica");
    assert_eq!(g["species"]["common_name"], "Sunda pangolin");
    assert_eq!(g["species"]["cites_appendix"], "I");
    assert_eq!(g["price"]["amount_minor"], 45000);
    assert_eq!(g["seller_handle"], "Scales.Trader");
    assert_eq!(g["url"], "https://facebook.com/marketplace/item/991");
    assert_eq!(g["tags"], serde_json::json!(["pangolin"]));
    let s = node.cli_json(&["get", &seizure]);
    assert_eq!(s["weight_grams"], 120_500);
    assert_eq!(s["route"]["transit"], serde_json::json!(["ET"]));

    // Every filter, exactly.
    let all = vec![
        note.clone(),
        seizure.clone(),
        entity.clone(),
        rosewood.clone(),
        pangolin.clone(),
    ];
    assert_eq!(query(&node, &[]), all, "newest first");
    assert_eq!(
        query(&node, &["--kind", "listing"]),
        vec![rosewood.clone(), pangolin.clone()]
    );
    assert_eq!(
        query(&node, &["--species", "Manis javanica"]),
        vec![pangolin.clone()]
    );
    assert_eq!(
        query(&node, &["--species", "sunda pangolin"]),
        vec![pangolin.clone()]
    );
    assert_eq!(query(&node, &["--appendix", "II"]), vec![rosewood.clone()]);
    assert_eq!(
        query(&node, &["--appendix", "I"]),
        vec![seizure.clone(), pangolin.clone()]
    );
    assert_eq!(
        query(&node, &["--country", "th"]),
        vec![seizure.clone(), rosewood.clone()]
    );
    assert_eq!(query(&node, &["--country", "NG"]), vec![seizure.clone()]);
    assert_eq!(query(&node, &["--platform", "OLX"]), vec![rosewood.clone()]);
    assert_eq!(
        query(&node, &["--seller", "@scales.trader"]),
        vec![pangolin.clone()]
    );
    assert_eq!(
        query(&node, &["--selector", "phone:+254-712-345678"]),
        vec![entity.clone(), pangolin.clone()]
    );
    assert_eq!(
        query(&node, &["--selector", "email:jm@example.org"]),
        vec![entity.clone()]
    );
    assert_eq!(
        query(&node, &["--selector", "handle:facebook:scales.trader"]),
        vec![pangolin.clone()]
    );
    assert_eq!(query(&node, &["--author", "KE-KWS"]), all);
    assert!(query(&node, &["--author", "ZA-DFFE"]).is_empty());
    assert_eq!(query(&node, &["--tag", "timber"]), vec![rosewood.clone()]);
    assert_eq!(query(&node, &["--code", "h3"]), vec![note.clone()]);
    assert_eq!(query(&node, &["--code", "H1"]), Vec::<String>::new());
    assert_eq!(
        query(&node, &["--text", "scales"]),
        vec![note.clone(), seizure.clone(), pangolin.clone()]
    );
    assert_eq!(
        query(&node, &["--text", "discreet scales"]),
        vec![pangolin.clone()]
    );
    assert_eq!(
        query(
            &node,
            &["--kind", "listing", "--country", "KE", "--tag", "pangolin"]
        ),
        vec![pangolin.clone()]
    );
    assert!(query(&node, &["--since", &day(1)]).is_empty());
    let two = node.cli_json(&["query", "--since", &day(-1), "--limit", "2"]);
    assert_eq!(ids(&two), vec![note.clone(), seizure.clone()]);
    assert_eq!(
        query(&node, &["--until", "2020-01-01"]),
        Vec::<String>::new()
    );

    // Bulk import: good rows in, bad rows named by line, exit code 3.
    let (csv, manis_rows, bad_lines) = csv_with_bad_rows(&node);
    let out = node.cli(&[
        "--format",
        "json",
        "import",
        csv.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sum: Value = serde_json::from_slice(&out.stdout).expect("import json");
    assert_eq!(sum["accepted"], 10_000, "{sum}");
    assert_eq!(sum["rejected"], 5, "{sum}");
    let rejected: Vec<u64> = sum["rejections"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(rejected, bad_lines);
    let reasons: Vec<&str> = sum["rejections"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["reason"].as_str().expect("reason"))
        .collect();
    assert!(reasons[0].contains("price"), "{reasons:?}");
    assert!(reasons[1].contains("country"), "{reasons:?}");
    assert!(reasons[2].contains("platform"), "{reasons:?}");
    assert!(reasons[3].contains("not a valid number"), "{reasons:?}");
    assert!(reasons[4].contains("RED"), "{reasons:?}");
    let manis = query(&node, &["--species", "Manis javanica"]);
    assert_eq!(manis.len(), manis_rows + 1, "exactly the pangolin listings");

    // Re-importing the same file stores nothing new.
    let again = node.cli(&["--format", "json", "import", csv.to_str().expect("path")]);
    let again: Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(10_000))
    );

    // Restart: everything is still there.
    assert!(
        node.stop().success(),
        "graceful stop failed:\n{}",
        node.log_text()
    );
    node.start();
    let stats = node.cli_json(&["stats"]);
    assert_eq!(stats["records"], 10_005);
    assert_eq!(query(&node, &["--species", "Manis javanica"]), manis);
    assert_eq!(node.cli_json(&["get", &pangolin])["signature"], "valid");

    // Retract: gone from get and queries, tombstone kept, audit intact.
    let r = node.cli_json(&[
        "retract",
        &pangolin[..12],
        "--reason",
        "seller misidentified",
    ]);
    assert!(
        r["retraction"].as_str().is_some_and(|s| s.len() == 64),
        "{r}"
    );
    let out = node.cli(&["get", &pangolin]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("retracted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!query(&node, &["--species", "Manis javanica"]).contains(&pangolin));
    assert_eq!(
        query(&node, &["--seller", "scales.trader"]),
        Vec::<String>::new()
    );
    assert_eq!(
        query(&node, &["--selector", "phone:+254712345678"]),
        vec![entity]
    );
    assert_eq!(node.cli_json(&["stats"])["tombstones"], 1);
    assert_eq!(node.cli_json(&["audit", "verify"])["ok"], true);
}

/// An edit is a new version: queries show the newest, get shows history.
#[test]
fn versions_and_history() {
    let mut node = TestNode::init("ZA-DFFE");
    node.start();
    let v1 = publish(
        &node,
        &[
            "note",
            "--title",
            "Lead",
            "--text",
            "first draft of the lead",
        ],
    );
    let v2 = publish(
        &node,
        &[
            "note",
            "--title",
            "Lead",
            "--text",
            "corrected lead",
            "--supersedes",
            &v1[..8],
        ],
    );
    assert_eq!(query(&node, &["--kind", "note"]), vec![v2.clone()]);
    assert_eq!(
        query(&node, &["--kind", "note", "--history"]),
        vec![v2.clone(), v1.clone()]
    );
    let g = node.cli_json(&["get", &v1]);
    assert_eq!(g["superseded_by"], Value::from(v2.clone()));
    let versions: Vec<&str> = g["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["id"].as_str().expect("id"))
        .collect();
    assert_eq!(versions, vec![v1.as_str(), v2.as_str()]);
    // Editing an old version again is refused: edit the newest.
    let out = node.cli(&["publish", "note", "--text", "fork", "--supersedes", &v1]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("newer version"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Retracting a record withdraws every version of it.
    node.cli_ok(&["retract", &v2, "--reason", "lead was wrong"]);
    for v in [&v1, &v2] {
        let out = node.cli(&["get", v]);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("retracted"),
            "{v} still readable"
        );
    }
    assert!(query(&node, &["--kind", "note", "--history"]).is_empty());
    assert_eq!(node.cli_json(&["stats"])["tombstones"], 2);
    // The same draft twice is one record.
    let a = node.cli_json(&["publish", "note", "--text", "same words"]);
    let b = node.cli_json(&["publish", "note", "--text", "same words"]);
    assert_eq!(a["id"], b["id"]);
    assert_eq!(b["duplicate"], true);
}

/// A JSONL import takes any kind and names the bad lines.
#[test]
fn jsonl_import_any_kind() {
    let mut node = TestNode::init("GB-NWCU");
    node.start();
    let path = node.tmp.path().join("drafts.jsonl");
    std::fs::write(
        &path,
        [
            r#"{"note": {"title": "t", "text": "ivory workshop in town"}, "tags": ["ivory"]}"#,
            r#"{"entity": {"entity_type": "vessel", "names": ["MV Example"], "selectors": [{"kind": "imo", "value": "IMO 9074729"}]}}"#,
            r#"{"listing": {"platform": "ebay", "title": "tortoise", "species": {"scientific_name": "astrochelys radiata"}}, "handling": {"tlp": "green", "scope": "federation", "code": "h1"}}"#,
            r#"{"seizure": {"seized_at": "2026-10-01", "country": "GB", "species": [{"scientific_name": "Psittacus erithacus"}]}}"#,
            r#"{"note": {"title": "no text"}}"#,
            r#"this is not json"#,
            "",
            r#"{"kind": "note", "text": "flat form", "handling": {"tlp": "CLEAR", "scope": "LOCAL", "code": "H0"}}"#,
        ]
        .join("\n"),
    )
    .expect("write");
    let out = node.cli(&["--format", "json", "import", path.to_str().expect("path")]);
    let sum: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(sum["accepted"], 5, "{sum}");
    let lines: Vec<u64> = sum["rejections"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(lines, vec![5, 6]);
    assert_eq!(query(&node, &["--selector", "imo:9074729"]).len(), 1);
    let tortoise = node.cli_json(&["query", "--species", "Radiated tortoise"]);
    assert_eq!(tortoise[0]["species"]["cites_appendix"], "I");
    assert_eq!(tortoise[0]["handling"]["code"], "H1");
    assert_eq!(query(&node, &["--tag", "ivory"]).len(), 1);
}

/// YYYY-MM-DD `offset` days from today (UTC).
fn day(offset: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(offset)).to_string()
}
