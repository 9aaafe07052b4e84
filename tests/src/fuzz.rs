//! The fuzz targets' bodies, shared by `fuzz/` (cargo fuzz, libFuzzer)
//! and by the normal test suite, which runs every target's [`seeds`] and
//! every input kept in `fuzz/regressions/<target>/` (each a crash, hang or
//! unbounded allocation the fuzzer found, fixed since). `scripts/fuzz.sh`
//! writes the seeds as the fuzzer's first corpus and runs every target.
//!
//! Each target takes arbitrary bytes and may only return: every refusal is
//! an `Err` inside. Where a signature would stop the fuzzer at the door,
//! the target also signs the bytes itself (with a key of its own, made
//! once), so the decoding and checks behind the signature are reached.

use std::sync::OnceLock;

use ed25519_dalek::{Signer, SigningKey};
use prost::Message;
use wildnet_node::membership::manifest::{CaKey, Trusted};
use wildnet_node::record::{Limits, LocalTrust, Record};
use wildnet_proto::v1 as pb;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by name (the file names under `fuzz/fuzz_targets/`).
pub const TARGETS: [(&str, Target); 7] = [
    ("record", record),
    ("manifest", manifest),
    ("receipt", receipt),
    ("import_row", import_row),
    ("selector", selector),
    ("reconcile", reconcile),
    ("federation_request", federation_request),
];

const NOW: i64 = 1_780_000_000_000;

fn record_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::from_bytes(&[7; 32]))
}

fn trust() -> LocalTrust {
    LocalTrust {
        agency: "KE-KWS".parse().expect("id"),
        key: record_key().verifying_key(),
    }
}

/// A signed record: as sent (decoded from the bytes), and the bytes as a
/// body this target signs, through verification, index terms and the
/// sharing rules.
pub fn record(data: &[u8]) {
    if let Ok(signed) = pb::SignedRecord::decode(data) {
        let _ = Record::verify(signed, &trust(), &Limits::default(), NOW);
    }
    let mut input = wildnet_node::record::SIGNING_CONTEXT.to_vec();
    input.extend_from_slice(data);
    let signed = pb::SignedRecord {
        body: data.to_vec(),
        signature: record_key().sign(&input).to_bytes().to_vec(),
        signer_public_key: record_key().verifying_key().to_bytes().to_vec(),
    };
    if let Ok(r) = Record::verify(signed, &trust(), &Limits::default(), NOW) {
        let _ = wildnet_node::record::terms::of(&r);
        let m = test_manifest();
        let _ = wildnet_node::policy::audience(r.body(), &m, NOW);
    }
}

fn test_manifest() -> Trusted {
    let body = pb::ManifestBody {
        version: 1,
        agencies: ["KE-KWS", "ZA-DFFE"]
            .iter()
            .map(|id| pb::ManifestAgency {
                id: id.to_string(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    Trusted::for_display(pb::Manifest::default(), body)
}

/// The federation CA for the manifest target: its key and its public key.
fn ca() -> &'static (ring::signature::EcdsaKeyPair, CaKey) {
    static CA: OnceLock<(ring::signature::EcdsaKeyPair, CaKey)> = OnceLock::new();
    CA.get_or_init(|| {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("ca cert");
        let rng = ring::rand::SystemRandom::new();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .expect("pkcs8");
        (pair, CaKey::from_cert_der(cert.der()).expect("ca key"))
    })
}

/// A manifest: as sent, and the bytes as a body the CA signs.
pub fn manifest(data: &[u8]) {
    let (pair, ca_key) = ca();
    if let Ok(m) = pb::Manifest::decode(data) {
        let _ = Trusted::verify(m, ca_key);
    }
    let mut input = wildnet_node::membership::manifest::MANIFEST_CONTEXT.to_vec();
    input.extend_from_slice(data);
    let Ok(sig) = pair.sign(&ring::rand::SystemRandom::new(), &input) else {
        return;
    };
    let m = pb::Manifest {
        body: data.to_vec(),
        signature: sig.as_ref().to_vec(),
    };
    if let Ok(t) = Trusted::verify(m, ca_key) {
        let b = wildnet_testbed::drafts::signed_note_body("KE-KWS", 1, pb::Scope::Federation);
        let _ = wildnet_node::policy::audience(&b, &t, NOW);
    }
}

/// A delivery receipt: as sent, and the bytes as a body this target signs.
pub fn receipt(data: &[u8]) {
    use wildnet_node::membership::receipts;
    if let Ok(r) = pb::Receipt::decode(data) {
        let _ = receipts::verify(&r, &trust());
    }
    if let Ok(body) = pb::ReceiptBody::decode(data) {
        let r = receipts::sign(&body, record_key());
        let _ = receipts::verify(&r, &trust());
    }
}

/// Import rows: the first byte picks CSV (a header line and rows), JSONL
/// (one line) or a STIX bundle; every draft is then checked as the node
/// checks a publish.
pub fn import_row(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let drafts: Vec<pb::RecordBody> = match pick % 3 {
        0 => csv_drafts(rest),
        1 => std::str::from_utf8(rest)
            .ok()
            .and_then(|t| wildnet_cli::json::draft_from_json(t).ok())
            .into_iter()
            .collect(),
        _ => serde_json::from_slice(rest)
            .ok()
            .and_then(|v| wildnet_cli::interop::stix_import::read(&v).ok())
            .map(|r| r.mapped.into_iter().filter_map(|m| m.draft.ok()).collect())
            .unwrap_or_default(),
    };
    for mut d in drafts {
        d.author = "KE-KWS".into();
        d.created_at = NOW;
        let _ = wildnet_node::record::validate::validate_body(&d, &Limits::default());
    }
}

fn csv_drafts(data: &[u8]) -> Vec<pb::RecordBody> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let Ok(headers) = rdr.headers().cloned() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for row in rdr.records().take(64).flatten() {
        if let Ok(d) = wildnet_cli::draft::csv_row(&headers, &row) {
            out.push(d);
        }
    }
    out
}

/// Selector normalisation: the first byte picks the kind, a second and
/// third the region; a value that normalises must normalise to itself.
pub fn selector(data: &[u8]) {
    use wildnet_node::record::selector::{KINDS, normalise};
    if data.len() < 3 {
        return;
    }
    let kind = KINDS[usize::from(data[0]) % KINDS.len()].1 as i32;
    let region = std::str::from_utf8(&data[1..3])
        .ok()
        .filter(|_| data[0] & 0x40 == 0);
    let value = String::from_utf8_lossy(&data[3..]);
    if let Ok(once) = normalise(kind, &value, region) {
        assert_eq!(
            normalise(kind, &once, region).as_deref(),
            Ok(once.as_str()),
            "normalising {value:?} gave {once:?}, which does not normalise to itself"
        );
    }
}

fn fixed_ids() -> &'static Vec<[u8; 32]> {
    static IDS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    IDS.get_or_init(|| {
        let mut ids: Vec<[u8; 32]> = (0..300u64)
            .map(|i| <sha2::Sha256 as sha2::Digest>::digest(i.to_le_bytes()).into())
            .collect();
        ids.sort_unstable();
        ids
    })
}

/// Reconciliation messages, both sides: a request answered over a fixed
/// set, and a response taken by an initiator over the same set.
pub fn reconcile(data: &[u8]) {
    use wildnet_node::membership::reconcile::{Initiator, respond};
    if let Ok(req) = pb::ReconcileRequest::decode(data) {
        let _ = respond(fixed_ids(), &req);
    }
    if let Ok(resp) = pb::ReconcileResponse::decode(data) {
        let mut init = Initiator::new(fixed_ids().clone());
        let _ = init.first();
        let _ = init.step(&resp);
    }
}

fn oprf() -> &'static wildnet_node::deconfliction::OprfKey {
    static K: OnceLock<wildnet_node::deconfliction::OprfKey> = OnceLock::new();
    K.get_or_init(|| {
        wildnet_node::deconfliction::OprfKey::from_bytes(&[9; 32]).expect("a fixed OPRF key")
    })
}

/// The Federation service's requests, decoded as the server decodes them
/// (the first byte picks the message), and what the handlers compute from
/// them without a store: record ids of a Fetch, OPRF evaluations of
/// blinded elements, a peer's policy.
pub fn federation_request(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    match pick % 8 {
        0 => drop(pb::PullRequest::decode(rest)),
        1 => {
            if let Ok(r) = pb::FetchRequest::decode(rest) {
                for id in &r.ids {
                    let _ = wildnet_node::record::RecordId::from_slice(id);
                }
            }
        }
        2 => drop(pb::ReceiptBatch::decode(rest)),
        3 => drop(pb::FilterRequest::decode(rest)),
        4 => {
            if let Ok(r) = pb::EvaluateRequest::decode(rest) {
                for b in r.blinded.iter().take(64) {
                    let _ = oprf().evaluate_blinded(b);
                }
            }
        }
        5 => drop(pb::FollowUpRequest::decode(rest)),
        6 => drop(pb::HelloRequest::decode(rest)),
        _ => {
            if let Ok(p) = pb::SharePolicy::decode(rest) {
                let _ = wildnet_node::policy::from_pb(&p);
            }
        }
    }
}

/// The regression inputs kept for `target`, by path.
pub fn regressions(target: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Well-formed inputs for `target`: the fuzzer's starting corpus, and the
/// suite's check that each target accepts what it should.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    use wildnet_testbed::drafts;
    let mut body = drafts::signed_note_body("KE-KWS", 1, pb::Scope::Federation);
    body.created_at = NOW;
    let listing = r#"{"kind":"listing","platform":"facebook","url":"https://facebook.com/item/1","title":"pangolin scales","species":"Manis javanica","country":"KE","selectors":["phone:+254712345678"]}"#;
    let csv = "platform,url,title,species,country,price,currency,selectors\nfacebook,https://fb.com/1,scales,Manis javanica,KE,450,USD,phone:+254712345678\n";
    let stix = r#"{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--6b1b1a5e-5c5e-4d1e-9d8e-1f2b3c4d5e6f","created":"2026-11-01T00:00:00Z","modified":"2026-11-01T00:00:00Z","pattern":"[phone-number:value = '+254712345678']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z","name":"courier phone"}]}"#;
    let prefixed = |b: u8, rest: &[u8]| [&[b][..], rest].concat();
    match target {
        "record" => vec![
            body.encode_to_vec(),
            Record::sign(body, record_key()).signed().encode_to_vec(),
        ],
        "manifest" => {
            let m = test_manifest();
            vec![m.body().encode_to_vec()]
        }
        "receipt" => vec![
            pb::ReceiptBody {
                holder: "ZA-DFFE".into(),
                author: "KE-KWS".into(),
                at: NOW,
                ids: vec![vec![1; 32]],
            }
            .encode_to_vec(),
        ],
        "import_row" => vec![
            prefixed(0, csv.as_bytes()),
            prefixed(1, listing.as_bytes()),
            prefixed(2, stix.as_bytes()),
        ],
        "selector" => [
            "\x01KE+254 712 345 678",
            "\x02KEwww.Shop.example/Item?id=1",
            "\x43XXseller@Example.com",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        "reconcile" => {
            let mut init =
                wildnet_node::membership::reconcile::Initiator::new(fixed_ids()[..200].to_vec());
            let first = init.first();
            let resp =
                wildnet_node::membership::reconcile::respond(fixed_ids(), &first).expect("respond");
            vec![first.encode_to_vec(), resp.encode_to_vec()]
        }
        "federation_request" => vec![
            prefixed(
                0,
                &pb::PullRequest {
                    since: 5,
                    follow: true,
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            prefixed(
                1,
                &pb::FetchRequest {
                    ids: vec![vec![1; 32]],
                }
                .encode_to_vec(),
            ),
            prefixed(
                4,
                &pb::EvaluateRequest {
                    blinded: vec![vec![2; 32]],
                }
                .encode_to_vec(),
            ),
        ],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(name, version, dependencies)` of every package of a Cargo.lock.
    fn lock(path: &str) -> Vec<(String, String, Vec<String>)> {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: toml_edit::DocumentMut = text.parse().expect("a Cargo.lock");
        let packages = doc["package"].as_array_of_tables().expect("[[package]]");
        packages
            .iter()
            .map(|p| {
                let s = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                let deps = p
                    .get("dependencies")
                    .and_then(|d| d.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                (s("name"), s("version"), deps)
            })
            .collect()
    }

    /// The fuzz crate (outside the workspace) builds the workspace's
    /// crates with the workspace's versions: its Cargo.lock holds every
    /// dependency their manifests name, and no other version of a package
    /// the workspace uses.
    #[test]
    fn the_fuzz_lock_follows_the_workspace() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let ws = lock(&format!("{root}/Cargo.lock"));
        let fuzz = lock(&format!("{root}/fuzz/Cargo.lock"));
        let fix =
            "run `cargo metadata --offline --format-version 1` in fuzz/ and commit fuzz/Cargo.lock";
        for (name, version, deps) in &fuzz {
            let Some(dir) = name.strip_prefix("wildnet-").filter(|d| *d != "fuzz") else {
                if ws.iter().any(|p| &p.0 == name) {
                    assert!(
                        ws.iter().any(|p| &p.0 == name && &p.1 == version),
                        "fuzz/Cargo.lock has {name} {version}, a version the workspace does not use: {fix}"
                    );
                }
                continue;
            };
            let manifest = std::fs::read_to_string(format!("{root}/{dir}/Cargo.toml"))
                .expect("the crate's manifest");
            let manifest: toml_edit::DocumentMut = manifest.parse().expect("TOML");
            let locked: Vec<&str> = deps.iter().filter_map(|d| d.split(' ').next()).collect();
            for section in ["dependencies", "build-dependencies"] {
                let Some(table) = manifest.get(section).and_then(|t| t.as_table()) else {
                    continue;
                };
                for (dep, _) in table.iter() {
                    assert!(
                        locked.contains(&dep),
                        "{name} depends on {dep}, which fuzz/Cargo.lock lacks: {fix}"
                    );
                }
            }
        }
    }

    /// Every seed and kept input runs through its target without a panic
    /// (a regression fails here with the input's path).
    #[test]
    fn every_kept_input_passes_its_target() {
        for (name, target) in TARGETS {
            let seeds = seeds(name);
            assert!(!seeds.is_empty(), "no seeds for fuzz target {name}");
            for (i, data) in seeds.iter().enumerate() {
                let r = std::panic::catch_unwind(|| target(data));
                assert!(r.is_ok(), "fuzz target {name} fails on its seed {i}");
            }
            for path in regressions(name) {
                let data = std::fs::read(&path).expect("read a kept input");
                let r = std::panic::catch_unwind(|| target(&data));
                assert!(r.is_ok(), "fuzz target {name} fails on {}", path.display());
            }
        }
    }

    /// The targets reach behind the signatures: a valid body this target
    /// signs verifies (otherwise the fuzzer would only ever see refusals).
    #[test]
    fn the_record_target_reaches_verification() {
        let b = wildnet_testbed::drafts::signed_note_body("KE-KWS", 1, pb::Scope::Federation);
        let mut b = b;
        b.created_at = NOW;
        let data = b.encode_to_vec();
        let mut input = wildnet_node::record::SIGNING_CONTEXT.to_vec();
        input.extend_from_slice(&data);
        let signed = pb::SignedRecord {
            body: data,
            signature: record_key().sign(&input).to_bytes().to_vec(),
            signer_public_key: record_key().verifying_key().to_bytes().to_vec(),
        };
        Record::verify(signed, &trust(), &Limits::default(), NOW).expect("verifies");
    }
}
