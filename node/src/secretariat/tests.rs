use std::path::Path;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;

use super::Secretariat;
use crate::membership::manifest::{ManifestError, Trusted};
use crate::record::{KeyBinding, RecordError};

fn agency(root: &Path, id: &str) -> (std::path::PathBuf, Vec<u8>) {
    let dir = root.join(id.to_lowercase());
    crate::identity::init(&dir, id, &format!("{id} test"), &id[..2]).expect("init");
    let req = std::fs::read(dir.join(crate::layout::ADMISSION_FILE)).expect("request");
    (dir, req)
}

fn signing_key(dir: &Path) -> SigningKey {
    let pem = std::fs::read_to_string(dir.join(crate::layout::SIGNING_KEY_FILE)).expect("key");
    SigningKey::from_pkcs8_pem(&pem).expect("key")
}

/// Admission checks the proofs, refuses a second admission without
/// --rotate, and binds the agency's signing key in the manifest.
#[test]
fn admit_rules() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut s = Secretariat::init(&tmp.path().join("fed"), "test").expect("init");
    assert!(
        Secretariat::init(&tmp.path().join("fed"), "test").is_err(),
        "CA overwritten"
    );
    let (ke, req) = agency(tmp.path(), "KE-KWS");
    let (id, der) = s
        .admit(&req, "127.0.0.1:7701", "desk", false, 30)
        .expect("admit");
    assert_eq!(id, "KE-KWS");
    assert_eq!(s.manifest().version(), 2);
    let m = s.manifest().clone();
    m.check_cert("KE-KWS", &der, crate::now_ms())
        .expect("issued cert is in force");
    let key = signing_key(&ke).verifying_key();
    m.check("KE-KWS", &key, crate::now_ms())
        .expect("signing key bound");
    assert!(matches!(
        m.check("ZA-DFFE", &key, 1),
        Err(RecordError::UnboundKey { .. })
    ));

    let e = s
        .admit(&req, "127.0.0.1:7701", "", false, 30)
        .expect_err("double admission");
    assert!(e.to_string().contains("--rotate"), "{e}");
    let mut bad = req.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert!(
        s.admit(&bad, "127.0.0.1:7701", "", false, 30).is_err(),
        "tampered request admitted"
    );
    let (_, za) = agency(tmp.path(), "ZA-DFFE");
    assert!(
        s.admit(&za, "nonsense", "", false, 30).is_err(),
        "bad address accepted"
    );
    assert_eq!(
        s.manifest().version(),
        2,
        "a refused admission changed the manifest"
    );
}

/// Rotation: the old certificate stops being accepted, records signed
/// with the old key before the rotation stay valid, later ones do not.
#[test]
fn rotation_and_revocation_keep_old_records_valid() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut s = Secretariat::init(&tmp.path().join("fed"), "test").expect("init");
    let (ke, req) = agency(tmp.path(), "KE-KWS");
    let (_, old_cert) = s
        .admit(&req, "127.0.0.1:7701", "", false, 30)
        .expect("admit");
    let old_key = signing_key(&ke).verifying_key();
    let before = crate::now_ms() - 1000;

    let (ke2, req2) = agency(&tmp.path().join("rotated"), "KE-KWS");
    let (_, new_cert) = s
        .admit(&req2, "127.0.0.1:7701", "", true, 30)
        .expect("rotate");
    let after = crate::now_ms() + 1000;
    let m = s.manifest().clone();
    assert!(
        m.check_cert("KE-KWS", &old_cert, after).is_err(),
        "old certificate still accepted"
    );
    m.check_cert("KE-KWS", &new_cert, after)
        .expect("new certificate");
    m.check("KE-KWS", &old_key, before)
        .expect("old records stay verifiable");
    assert!(matches!(
        m.check("KE-KWS", &old_key, after),
        Err(RecordError::RevokedKey { .. })
    ));
    m.check("KE-KWS", &signing_key(&ke2).verifying_key(), after)
        .expect("new key");

    // Revoking the agency from T: earlier records valid, later refused.
    let t = crate::now_ms() + 60_000;
    s.revoke("KE-KWS", None, t).expect("revoke");
    let m = s.manifest().clone();
    let new_key = signing_key(&ke2).verifying_key();
    m.check("KE-KWS", &new_key, t - 1)
        .expect("before revocation");
    assert!(
        m.check("KE-KWS", &new_key, t).is_err(),
        "record after revocation accepted"
    );
    assert!(
        m.check_cert("KE-KWS", &new_cert, t + 1).is_err(),
        "revoked agency's certificate accepted"
    );
}

/// Manifests verify only against their CA and only move forward.
#[test]
fn manifest_versions_and_signatures() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut s = Secretariat::init(&tmp.path().join("fed"), "test").expect("init");
    let v1 = s.manifest().clone();
    let (_, req) = agency(tmp.path(), "KE-KWS");
    s.admit(&req, "127.0.0.1:7701", "", false, 30)
        .expect("admit");
    let v2 = s.manifest().clone();
    assert_eq!(Trusted::check_newer(Some(&v1), &v2), Ok(true));
    assert_eq!(Trusted::check_newer(Some(&v2), &v2), Ok(false));
    assert_eq!(
        Trusted::check_newer(Some(&v2), &v1),
        Err(ManifestError::NotNewer {
            offered: 1,
            current: 2
        })
    );
    let mut tampered = v2.manifest().clone();
    tampered.body[3] ^= 0x10;
    assert_eq!(
        Trusted::verify(tampered, s.ca()),
        Err(ManifestError::BadSignature)
    );
    let other = Secretariat::init(&tmp.path().join("other"), "other").expect("init");
    assert_eq!(
        Trusted::verify(v2.manifest().clone(), other.ca()),
        Err(ManifestError::BadSignature)
    );
}

/// Groups need admitted members; an unknown group resolves to nobody.
#[test]
fn groups_fail_closed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut s = Secretariat::init(&tmp.path().join("fed"), "test").expect("init");
    let (_, req) = agency(tmp.path(), "KE-KWS");
    s.admit(&req, "127.0.0.1:7701", "", false, 30)
        .expect("admit");
    assert!(
        s.group_set("SADC", &["KE-KWS".into(), "ZA-DFFE".into()])
            .is_err(),
        "unknown member accepted"
    );
    assert!(s.group_set("bad name", &["KE-KWS".into()]).is_err());
    s.group_set("SADC", &["KE-KWS".into()]).expect("group");
    assert_eq!(s.manifest().group("SADC"), ["KE-KWS".to_string()]);
    assert!(s.manifest().group("EAC").is_empty());
    s.group_rm("SADC").expect("rm");
    assert!(s.manifest().group("SADC").is_empty());
    assert!(s.group_rm("SADC").is_err());
}
