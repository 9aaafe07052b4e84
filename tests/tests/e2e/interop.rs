//! Exports in the field's formats and STIX imports, checked by the tools
//! others use: the OASIS `stix2-validator` (STIX 2.1 mode) must accept a
//! wildnet bundle, and a bundle made by the OASIS `stix2` library must
//! import. Both are Python packages `scripts/test.sh` installs.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use wildnet_tests::TestNode;

const PY_MISSING: &str =
    "run python3 with stix2 and stix2-validator (scripts/test.sh installs them)";

/// Publishes a small case at `node`: an entity, a seizure with every
/// report field linked to it, a listing with observables, a note linked
/// to the seizure. Returns the seizure's id.
fn publish_case(node: &TestNode) -> String {
    let id = |v: Value| v["id"].as_str().expect("an id").to_string();
    let entity = id(node.cli_json(&[
        "publish",
        "entity",
        "--type",
        "person",
        "--name",
        "Juma K.",
        "--nationality",
        "TZ",
        "--selector",
        "phone:+254722333444",
        "--tlp",
        "amber",
    ]));
    let seizure = id(node.cli_json(&[
        "publish",
        "seizure",
        "--date",
        "2026-11-20",
        "--country",
        "KE",
        "--place",
        "JKIA Nairobi",
        "--species",
        "Smutsia temminckii",
        "--item-type",
        "part",
        "--quantity",
        "40",
        "--weight-kg",
        "12.5",
        "--concealment",
        "suitcase lining",
        "--origin",
        "UG",
        "--transit",
        "KE",
        "--destination",
        "VN",
        "--entity",
        &entity,
        "--selector",
        "phone:+254722333444",
        "--transport",
        "air",
        "--detection",
        "x-ray",
        "--reason",
        "no CITES permit",
        "--cites-term",
        "SCA",
        "--cites-unit",
        "kg",
        "--value",
        "120000 USD",
        "--disposal",
        "held as evidence",
        "--legal-action",
        "1 arrested",
        "--tlp",
        "amber-strict",
        "--code",
        "h1",
    ]));
    node.cli_json(&[
        "publish",
        "listing",
        "--platform",
        "facebook",
        "--url",
        "https://facebook.example/listing/77",
        "--title",
        "Pangolin scales 2kg",
        "--seller",
        "scales_dealer",
        "--price",
        "450",
        "--currency",
        "KES",
        "--species",
        "Smutsia temminckii",
        "--country",
        "KE",
        "--selector",
        "phone:+254722333444",
        "--selector",
        "email:dealer@example.org",
        "--evidence",
        &"ab".repeat(32),
        "--tlp",
        "green",
    ]);
    node.cli_json(&[
        "publish",
        "note",
        "--title",
        "Courier",
        "--text",
        "The courier flies weekly.",
        "--link",
        &seizure,
        "--tlp",
        "red",
        "--share",
        "agency:ZA-DFFE",
    ]);
    seizure
}

fn python(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .args(args)
        .output()
        .expect(PY_MISSING)
}

/// A wildnet bundle validates with stix2-validator, parses with stix2, is
/// the same bytes when exported again, and imports back whole into a
/// second agency with every seizure field.
#[test]
fn stix_bundle_validates_and_round_trips() {
    let mut ke = TestNode::init("KE-KWS");
    ke.start();
    publish_case(&ke);
    let file = ke.dir.join("case.stix.json");
    let f = file.to_str().expect("utf-8 path");
    ke.cli_ok(&["export", "--format", "stix", "-o", f]);
    // What the `stix2_validator --version 2.1 FILE` script does, with its
    // exit code, without depending on where pip put the script.
    let validate = "import sys; from stix2validator import validate_file, ValidationOptions, print_results, codes; \
        r = validate_file(sys.argv[1], ValidationOptions(version='2.1')); print_results(r); sys.exit(codes.get_code([r]))";
    let out = python(&["-c", validate, f]);
    assert!(
        out.status.success(),
        "stix2-validator refused the bundle ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    let parse = "import json,sys,stix2; b=stix2.parse(json.load(open(sys.argv[1])), allow_custom=True); print(len(b.objects))";
    let out = python(&["-c", parse, f]);
    assert!(
        out.status.success(),
        "stix2.parse failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The validator takes any property extension on trust; the wildnet
    // extension is checked against its published JSON Schema here.
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/stix/wildnet-record.schema.json"
    );
    let check = "import json, sys, jsonschema; s = json.load(open(sys.argv[2])); b = json.load(open(sys.argv[1])); \
        e = [o['extensions'][sys.argv[3]] for o in b['objects'] if sys.argv[3] in o.get('extensions', {})]; \
        [jsonschema.validate(x, s) for x in e]; print(len(e))";
    let out = python(&[
        "-c",
        check,
        f,
        schema,
        wildnet_cli::interop::stix::WILDLIFE_EXTENSION,
    ]);
    assert!(
        out.status.success(),
        "the wildnet extension breaks its schema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "4",
        "one extension per record"
    );
    let text = std::fs::read_to_string(&file).expect("bundle");
    assert_eq!(
        text,
        ke.cli_ok(&["export", "--format", "stix"]),
        "the same records give the same bundle"
    );
    let bundle: Value = serde_json::from_str(&text).expect("JSON");
    let objects = bundle["objects"].as_array().expect("objects");
    let of = |t: &str| {
        objects
            .iter()
            .filter(|o| o["type"] == t)
            .collect::<Vec<_>>()
    };
    for t in [
        "observed-data",
        "incident",
        "threat-actor",
        "note",
        "location",
        "phone-number",
        "email-addr",
        "user-account",
        "url",
        "file",
    ] {
        assert!(!of(t).is_empty(), "no {t} in the bundle");
    }
    let markings: Vec<&str> = of("marking-definition")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    for id in [
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    ] {
        assert!(markings.contains(&id), "{id} missing: {markings:?}");
    }
    let incident = of("incident")[0];
    let ext = incident["extensions"]
        .as_object()
        .and_then(|e| e.values().find(|v| v.get("kind").is_some()))
        .expect("the wildnet extension");
    assert_eq!(ext["cites_term"], "SCA");
    assert_eq!(ext["species"][0]["cites_appendix"], "I");

    let mut gb = TestNode::init("GB-NWCU");
    gb.start();
    let summary = gb.cli_json(&["import", f]);
    assert_eq!(summary["accepted"], 4, "{summary}");
    assert_eq!(summary["rejected"], 0, "{summary}");
    let seizures = gb.cli_json(&["query", "--kind", "seizure"]);
    let s = &seizures[0];
    assert_eq!(
        s["author"], "GB-NWCU",
        "an import is signed by the importer"
    );
    for (k, v) in [
        ("cites_term", "SCA"),
        ("cites_unit", "kg"),
        ("transport_mode", "AIR"),
        ("detection_method", "x-ray"),
        ("disposal", "held as evidence"),
        ("legal_action", "1 arrested"),
    ] {
        assert_eq!(s[k], v, "{k} in {s}");
    }
    assert_eq!(s["handling"]["tlp"], "AMBER_STRICT");
    assert_eq!(s["estimated_value"]["amount_minor"], 12_000_000);
}

/// A bundle made by the OASIS stix2 library imports: observed-data becomes
/// a listing, the incident a seizure in its location's country, the
/// threat actor an entity, the note a note; TLP 1.0 markings are read;
/// an indicator is skipped with the reason.
#[test]
fn stix2_library_bundle_imports() {
    let mut node = TestNode::init("ZA-DFFE");
    node.start();
    let file = node.dir.join("made-by-stix2.json");
    let script = r#"
import sys, stix2
url = stix2.URL(value="https://jiji.example/listing/9")
acct = stix2.UserAccount(account_login="rhino_horn_za", account_type="jiji")
mail = stix2.EmailAddress(value="horn.seller@example.com")
seen = stix2.ObservedData(first_observed="2026-10-01T08:00:00Z", last_observed="2026-10-01T08:00:00Z",
                          number_observed=1, object_refs=[url, acct, mail], object_marking_refs=[stix2.TLP_AMBER])
place = stix2.Location(country="ZA", city="Durban")
inc = stix2.Incident(name="Rhino horn in a container", description="6 horns in tiles",
                     object_marking_refs=[stix2.TLP_GREEN])
rel = stix2.Relationship(inc, "related-to", place)
actor = stix2.ThreatActor(name="Durban horn syndicate", threat_actor_types=["crime-syndicate"], aliases=["DHS"])
note = stix2.Note(content="Seller answers at night.", abstract="Timing", object_refs=[seen])
ind = stix2.Indicator(pattern="[url:value = 'https://jiji.example/listing/9']", pattern_type="stix")
b = stix2.Bundle(url, acct, mail, seen, place, inc, rel, actor, note, ind, stix2.TLP_AMBER, stix2.TLP_GREEN)
open(sys.argv[1], "w").write(b.serialize(pretty=True))
"#;
    let out = python(&["-c", script, file.to_str().expect("path")]);
    assert!(
        out.status.success(),
        "stix2 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = import(&node, &file);
    assert_eq!(summary["accepted"], 4, "{summary}");
    let skipped = summary["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 1, "{summary}");
    assert!(
        skipped[0]
            .as_str()
            .unwrap_or("")
            .contains("no wildnet record kind maps a STIX indicator"),
        "{summary}"
    );
    let listing = &node.cli_json(&["query", "--kind", "listing"])[0];
    assert_eq!(listing["platform"], "jiji");
    assert_eq!(listing["url"], "https://jiji.example/listing/9");
    assert_eq!(listing["seller_handle"], "rhino_horn_za");
    assert_eq!(listing["handling"]["tlp"], "AMBER");
    let selectors = listing["selectors"].to_string();
    assert!(selectors.contains("horn.seller@example.com"), "{selectors}");
    let seizure = &node.cli_json(&["query", "--kind", "seizure"])[0];
    assert_eq!(seizure["country"], "ZA");
    assert_eq!(seizure["place"], "Durban");
    assert_eq!(seizure["handling"]["tlp"], "GREEN");
    let entity = &node.cli_json(&["query", "--kind", "entity"])[0];
    assert_eq!(entity["entity_type"], "ORGANISATION");
    assert_eq!(
        entity["names"],
        serde_json::json!(["Durban horn syndicate", "DHS"])
    );
}

fn import(node: &TestNode, file: &Path) -> Value {
    node.cli_json(&["import", file.to_str().expect("path")])
}

/// The CITES report rows carry the seizure's report fields in the
/// report's column order, with the offender's nationality from the linked
/// entity; the Ecomessage withholds names unless --nominal; CSV listings
/// import back.
#[test]
fn cites_report_ecomessage_and_csv() {
    let mut ke = TestNode::init("KE-KWS");
    ke.start();
    let seizure = publish_case(&ke);
    let csv = ke.cli_ok(&["export", "--format", "cites-aitr"]);
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = rows
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, wildnet_cli::interop::cites::COLUMNS);
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 1, "one seizure, one species: {csv}");
    let cell = |name: &str| {
        let i = header.iter().position(|h| h == name).expect("column");
        rows[0].get(i).expect("cell").to_string()
    };
    assert_eq!(cell("Date of seizure"), "2026-11-20");
    assert_eq!(cell("Species (scientific name)"), "Smutsia temminckii");
    assert_eq!(cell("Description of specimens"), "SCA");
    assert_eq!(
        (cell("Quantity"), cell("Unit")),
        ("12.5".into(), "kg".into())
    );
    assert_eq!(cell("Mode of transport"), "air");
    assert_eq!(cell("Nationality of offender(s)"), "TZ");
    assert_eq!(cell("Estimated value"), "120000.00 USD");
    assert_eq!(cell("Country of destination"), "VN");

    let eco: Value =
        serde_json::from_str(&ke.cli_ok(&["export", "--format", "ecomessage"])).expect("JSON");
    assert_eq!(eco[0]["reference"], seizure.as_str());
    assert_eq!(eco[0]["persons"]["withheld"], 1);
    assert!(
        !eco.to_string().contains("Juma"),
        "names left without --nominal"
    );
    let eco: Value =
        serde_json::from_str(&ke.cli_ok(&["export", "--format", "ecomessage", "--nominal"]))
            .expect("JSON");
    assert_eq!(eco[0]["persons"]["listed"][0]["names"][0], "Juma K.");
    assert_eq!(eco[0]["modus_operandi"]["detection_method"], "x-ray");

    let file = ke.dir.join("listings.csv");
    ke.cli_ok(&[
        "export",
        "--format",
        "csv",
        "-o",
        file.to_str().expect("path"),
    ]);
    let mut gb = TestNode::init("GB-NWCU");
    gb.start();
    let summary = import(&gb, &file);
    assert_eq!(summary["accepted"], 1, "{summary}");
    let l = &gb.cli_json(&["query", "--kind", "listing"])[0];
    assert_eq!(l["seller_handle"], "scales_dealer");
    assert_eq!(l["price"]["amount_minor"], 45000);
}
