//! `wildnet demo` as a newcomer runs it: four real node processes, the
//! whole story narrated, every step's outcome in the output, the nodes
//! stopped at the end.

use std::process::Command;

use wildnet_tests::bin;

/// The rows (node, peer, missing, lacks) of the completeness table.
fn completeness_rows(text: &str) -> Vec<Vec<String>> {
    let tail = text.split("== 8.").nth(1).expect("the completeness step");
    tail.lines()
        .map(|l| {
            l.trim_matches(|c: char| c == '│' || c.is_whitespace())
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.len() == 4 && cells[0].contains('-') && cells[1].contains('-'))
        .collect()
}

#[test]
fn the_demo_tells_the_whole_story_and_stops_its_nodes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("demo");
    let out = Command::new(bin("wildnet"))
        .args(["demo", "--seed", "7", "--background", "250", "--dir"])
        .arg(&dir)
        .output()
        .expect("run wildnet demo");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{text}\n{err}");
    for n in 1..=8 {
        assert!(
            text.contains(&format!("== {n}. ")),
            "step {n} missing:\n{text}"
        );
    }
    let must = [
        // Step 2: the haystack and the case.
        "KE-KWS imported 250 generated listings from KE's markets (seed 7)",
        "TLP:RED agency:KE-KWS H2",
        // Step 3: the handling rules at work.
        "no: local: never leaves KE-KWS",
        "no: not in group AFRICA",
        "no: only KE-KWS may hold it",
        // ... and a per-peer policy on top: Vietnam sends Britain GREEN at most.
        "VN-EP's own policy sends GB-NWCU nothing above TLP:GREEN",
        "no: VN-EP's policy: GREEN at most; H2: no relay",
        "refused 0",
        // Step 4: the cross-border link.
        "holds phone:+254722333444, like Kenya's listing",
        "ZA-DFFE seizure",
        // ... and in the haystack: planted sellers link, the decoy does not.
        "more values link KE-KWS to other agencies' records",
        "handle:telegram:swift_cargo_247 on 21+ records links nothing: over-correlating",
        // Step 5: a hit names the contact, the no-hit nothing.
        "NO_HIT",
        "records VN may hold: 0",
        // Step 6: three answers, one declining.
        "accept",
        "tentative",
        "decline",
        "held elsewhere by ZA-DFFE",
        // Step 7: deletion receipts from every holder.
        "deletion confirmed by KE-KWS, VN-EP, ZA-DFFE",
        "The nodes are stopped",
    ];
    for m in must {
        assert!(text.contains(m), "{m:?} missing:\n{text}");
    }
    let rows = completeness_rows(&text);
    assert_eq!(rows.len(), 12, "every node × peer: {rows:?}\n{text}");
    assert!(
        rows.iter().all(|r| r[2] == "0" && r[3] == "0"),
        "nothing missing: {rows:?}"
    );
    for a in ["ke-kws", "za-dffe", "gb-nwcu", "vn-ep"] {
        let sock = dir.join(a).join("data").join("wildnet.sock");
        assert!(!sock.exists(), "{a}'s node still runs");
    }
    // A second run into the same dir is refused with what to do.
    let again = Command::new(bin("wildnet"))
        .args(["demo", "--dir"])
        .arg(&dir)
        .output()
        .expect("run wildnet demo");
    let why = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && why.contains("is not empty"),
        "{why}"
    );
}
