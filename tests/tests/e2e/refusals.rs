//! Bad input gets a clear error and never loses what is stored.

use tonic::Code;
use wildnet_proto::v1 as pb;
use wildnet_tests::{TestNode, bin};

fn listing_draft(h: pb::Handling) -> pb::PublishRequest {
    pb::PublishRequest {
        draft: Some(pb::RecordBody {
            handling: Some(h),
            payload: Some(pb::record_body::Payload::Listing(pb::Listing {
                platform: "olx".into(),
                title: "ivory bangles".into(),
                ..Default::default()
            })),
            ..Default::default()
        }),
    }
}

/// Invalid drafts are refused over gRPC with the field and the rule.
#[tokio::test]
async fn invalid_drafts_are_refused_with_reasons() {
    let mut node = TestNode::init("KE-KWS");
    node.start();
    let mut c = node.client().await;
    let red = pb::Handling {
        tlp: pb::Tlp::Red as i32,
        scope: pb::Scope::Federation as i32,
        ..Default::default()
    };
    let e = c
        .publish(listing_draft(red))
        .await
        .expect_err("RED to federation accepted");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("TLP:RED requires scope agencies"),
        "{}",
        e.message()
    );

    let empty_group = pb::Handling {
        tlp: pb::Tlp::Green as i32,
        scope: pb::Scope::Groups as i32,
        ..Default::default()
    };
    let e = c
        .publish(listing_draft(empty_group))
        .await
        .expect_err("empty groups accepted");
    assert!(e.message().contains("handling.groups"), "{}", e.message());

    let e = c
        .publish(pb::PublishRequest { draft: None })
        .await
        .expect_err("no draft");
    assert_eq!(e.code(), Code::InvalidArgument);

    let e = c
        .publish(pb::PublishRequest {
            draft: Some(pb::RecordBody {
                payload: Some(pb::record_body::Payload::Entity(pb::Entity {
                    entity_type: pb::EntityType::Person as i32,
                    names: (0..200)
                        .map(|i| format!("{i} {}", "n".repeat(500)))
                        .collect(),
                    ..Default::default()
                })),
                ..Default::default()
            }),
        })
        .await
        .expect_err("over the body limit");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("limit") || e.message().contains("at most"),
        "{}",
        e.message()
    );

    // Over the gRPC message limit: refused before it is even decoded.
    let huge = pb::PublishRequest {
        draft: Some(pb::RecordBody {
            payload: Some(pb::record_body::Payload::Note(pb::Note {
                title: String::new(),
                text: "x".repeat(5 * 1024 * 1024),
                ..Default::default()
            })),
            ..Default::default()
        }),
    };
    let e = c
        .publish(huge)
        .await
        .expect_err("oversize message accepted");
    assert_eq!(e.code(), Code::OutOfRange, "{e}");

    let e = c
        .retract(pb::RetractRequest {
            id: "deadbeefdeadbeef".into(),
            reason: "x".into(),
        })
        .await
        .expect_err("retracting nothing");
    assert_eq!(e.code(), Code::NotFound);
    let e = c
        .get(pb::GetRequest { id: "abc".into() })
        .await
        .expect_err("short prefix");
    assert!(e.message().contains("at least 8"), "{}", e.message());

    let stats = c
        .stats(pb::StatsRequest::default())
        .await
        .expect("stats")
        .into_inner();
    assert_eq!(stats.records, 0, "a refused draft was stored");
}

/// CLI flags are checked with messages naming the flag and the fix.
#[test]
fn cli_input_errors() {
    let mut node = TestNode::init("KE-KWS");
    node.start();
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "publish",
                "listing",
                "--platform",
                "olx",
                "--title",
                "t",
                "--tlp",
                "purple",
            ],
            "--tlp",
        ),
        (
            &[
                "publish",
                "listing",
                "--platform",
                "olx",
                "--title",
                "t",
                "--share",
                "everyone",
            ],
            "--share",
        ),
        (
            &[
                "publish",
                "listing",
                "--platform",
                "olx",
                "--title",
                "t",
                "--price",
                "12",
            ],
            "currency",
        ),
        (
            &[
                "publish",
                "listing",
                "--platform",
                "olx",
                "--title",
                "t",
                "--observed-at",
                "yesterday",
            ],
            "YYYY-MM-DD",
        ),
        (
            &["publish", "note", "--text", "x", "--code", "h3"],
            "restrictions",
        ),
        (&["query", "--kind", "gossip"], "unknown kind"),
    ];
    for (args, expect) in cases {
        let out = node.cli(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    assert_eq!(node.cli_json(&["stats"])["records"], 0);
}

/// init refuses to overwrite keys; a mistyped config key or an agency dir
/// that is already served stops the node with a message naming it.
#[test]
fn init_and_config_refusals() {
    let mut node = TestNode::init("KE-KWS");
    let key = node.dir.join("keys").join("signing.key.pem");
    let before = std::fs::read(&key).expect("key");
    let out = node.cli(&[
        "init",
        "--agency",
        "KE-KWS",
        "--name",
        "again",
        "--dir",
        node.dir.to_str().expect("path"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(&key).expect("key"), before);

    node.start();
    let second = std::process::Command::new(bin("wildnet-node"))
        .arg("--config")
        .arg(node.config())
        .output()
        .expect("run");
    assert!(
        !second.status.success(),
        "a second node on the same data dir started"
    );
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("cannot open the node") || err.contains("already serving"),
        "{err}"
    );

    let bad = node.tmp.path().join("bad.toml");
    let text = std::fs::read_to_string(node.config())
        .expect("cfg")
        .replace("data_dir", "data_dri");
    std::fs::write(&bad, text).expect("write");
    let out = std::process::Command::new(bin("wildnet-node"))
        .arg("--config")
        .arg(&bad)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("data_dri"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A row over `--max-row-bytes` is rejected by line, unparsed (a JSONL
/// line of 3 MiB without being held whole), and the rows around it are
/// stored.
#[test]
fn an_oversized_import_row_is_rejected_by_line() {
    let mut node = TestNode::init("KE-KWS");
    node.start();
    let note = |t: &str| format!(r#"{{"kind":"note","text":"{t}"}}"#);
    // Multi-byte characters: the limit cuts one in half.
    let huge = format!(r#"{{"kind":"note","text":"x{}"}}"#, "é".repeat(3 << 19));
    let jsonl = node.tmp.path().join("rows.jsonl");
    std::fs::write(
        &jsonl,
        format!("{}\n{huge}\n{}\n", note("first"), note("third")),
    )
    .expect("write");
    let out = node.cli(&["--format", "json", "import", jsonl.to_str().expect("path")]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["rejections"][0]["line"], 2, "{v}");
    let why = v["rejections"][0]["reason"].as_str().expect("reason");
    assert!(why.contains("--max-row-bytes"), "{why}");
    let csv = node.tmp.path().join("rows.csv");
    let long_title = "t".repeat(300);
    std::fs::write(
        &csv,
        format!("platform,title\nolx,short\nolx,{long_title}\nolx,also short\n"),
    )
    .expect("write");
    let out = node.cli(&[
        "--format",
        "json",
        "import",
        csv.to_str().expect("path"),
        "--max-row-bytes",
        "200",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    assert_eq!(v["rejections"][0]["line"], 3, "{v}");
}
