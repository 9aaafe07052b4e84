use ed25519_dalek::SigningKey;
use wildnet_proto::v1 as pb;

use super::*;

mod props;
mod strict;

const NOW: i64 = 1_780_000_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn trust(k: &SigningKey) -> LocalTrust {
    LocalTrust {
        agency: "KE-KWS".parse().expect("valid id"),
        key: k.verifying_key(),
    }
}

pub(crate) fn listing_body() -> pb::RecordBody {
    pb::RecordBody {
        schema_version: 1,
        author: "KE-KWS".into(),
        created_at: NOW,
        handling: Some(pb::Handling {
            tlp: pb::Tlp::Amber as i32,
            scope: pb::Scope::Federation as i32,
            code: pb::HandlingCode::H0 as i32,
            ..Default::default()
        }),
        tags: vec!["pangolin".into()],
        payload: Some(pb::record_body::Payload::Listing(pb::Listing {
            platform: "facebook".into(),
            url: "https://facebook.com/item/1".into(),
            title: "pangolin scales 2kg".into(),
            seller_handle: "scales.trader".into(),
            price: Some(pb::Money {
                amount_minor: 50000,
                currency: "USD".into(),
            }),
            species: Some(pb::Species {
                scientific_name: "Manis javanica".into(),
                common_name: "Sunda pangolin".into(),
                cites_appendix: pb::CitesAppendix::I as i32,
            }),
            country: "KE".into(),
            observed_at: NOW - 1000,
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn verify(signed: pb::SignedRecord, k: &SigningKey) -> Result<Record, RecordError> {
    Record::verify(signed, &trust(k), &Limits::default(), NOW)
}

/// A signed record verifies, keeps its exact bytes and has id SHA-256(body).
#[test]
fn sign_verify_round_trip() {
    let k = key(1);
    let r = Record::sign(listing_body(), &k);
    let back = verify(r.signed().clone(), &k).expect("verifies");
    assert_eq!(back, r);
    assert_eq!(r.id(), RecordId::of_body(&r.signed().body));
    assert_eq!(r.kind(), "listing");
    assert!(r.signature_status().is_ok());
}

/// Flipping any single byte of the body, signature or key is refused.
#[test]
fn every_tamper_is_rejected() {
    let k = key(1);
    let signed = Record::sign(listing_body(), &k).signed().clone();
    for i in 0..signed.body.len() {
        let mut t = signed.clone();
        t.body[i] ^= 0x01;
        assert!(verify(t, &k).is_err(), "body byte {i} flipped was accepted");
    }
    for i in 0..64 {
        let mut t = signed.clone();
        t.signature[i] ^= 0x80;
        assert_eq!(
            verify(t, &k),
            Err(RecordError::BadSignature),
            "sig byte {i}"
        );
    }
    for i in 0..32 {
        let mut t = signed.clone();
        t.signer_public_key[i] ^= 0x01;
        let e = verify(t, &k).expect_err("key tamper accepted");
        assert!(
            matches!(e, RecordError::BadSignature | RecordError::BadSignerKey(_)),
            "key byte {i}: {e}"
        );
    }
    let mut t = signed.clone();
    t.signature.pop();
    assert_eq!(verify(t, &k), Err(RecordError::SignatureLength(63)));
    let mut t = signed;
    t.body.push(0);
    assert!(verify(t, &k).is_err(), "appended byte accepted");
}

/// A valid signature by a key not bound to the author is refused.
#[test]
fn unbound_key_is_rejected() {
    let signed = Record::sign(listing_body(), &key(2)).signed().clone();
    let e = verify(signed, &key(1)).expect_err("accepted foreign key");
    assert!(matches!(e, RecordError::UnboundKey { .. }), "{e}");

    let mut body = listing_body();
    body.author = "ZA-DFFE".into();
    let signed = Record::sign(body, &key(1)).signed().clone();
    let e = verify(signed, &key(1)).expect_err("accepted wrong author");
    assert!(matches!(e, RecordError::UnboundKey { .. }), "{e}");
}

/// created_at more than 5 minutes ahead is refused; 4 minutes is fine.
#[test]
fn future_timestamps() {
    let k = key(1);
    let mut body = listing_body();
    body.created_at = NOW + 4 * 60 * 1000;
    assert!(verify(Record::sign(body.clone(), &k).signed().clone(), &k).is_ok());
    body.created_at = NOW + 6 * 60 * 1000;
    let signed = Record::sign(body, &k).signed().clone();
    let e = verify(signed.clone(), &k).expect_err("future accepted");
    assert!(matches!(e, RecordError::FutureTimestamp { .. }), "{e}");
    // The reason names how far ahead, the allowance and the setting.
    let text = e.to_string();
    assert!(
        text.contains("360000 ms ahead") && text.contains("300000 ms"),
        "{text}"
    );
    assert!(text.contains("clock_skew_secs"), "{text}");
    // The allowance is a setting: ten minutes admit it, one minute does
    // not admit even two.
    let wide = Limits {
        max_clock_skew_ms: 10 * 60 * 1000,
        ..Limits::default()
    };
    assert!(Record::verify(signed, &trust(&k), &wide, NOW).is_ok());
    let mut body = listing_body();
    body.created_at = NOW + 2 * 60 * 1000;
    let narrow = Limits {
        max_clock_skew_ms: 60 * 1000,
        ..Limits::default()
    };
    let signed = Record::sign(body, &k).signed().clone();
    assert!(Record::verify(signed, &trust(&k), &narrow, NOW).is_err());
}

/// Oversize bodies and undecodable bytes are refused with their reason.
#[test]
fn size_and_decoding() {
    let k = key(1);
    let signed = Record::sign(listing_body(), &k).signed().clone();
    let limits = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let e = Record::verify(signed, &trust(&k), &limits, NOW).expect_err("oversize");
    assert!(matches!(e, RecordError::TooLarge { .. }), "{e}");

    // Validly signed garbage: the signature holds but the body does not decode.
    let garbage = vec![0xff, 0xff, 0xff];
    let sig = ed25519_dalek::Signer::sign(&k, &signing_input(&garbage));
    let signed = pb::SignedRecord {
        body: garbage,
        signature: sig.to_bytes().to_vec(),
        signer_public_key: k.verifying_key().to_bytes().to_vec(),
    };
    let e = verify(signed, &k).expect_err("garbage accepted");
    assert!(matches!(e, RecordError::MalformedBody(_)), "{e}");
}

fn invalid(mutate: impl FnOnce(&mut pb::RecordBody)) -> ValidationError {
    let mut b = listing_body();
    mutate(&mut b);
    validate::validate_body(&b, &Limits::default()).expect_err("invalid body accepted")
}

/// A valid seizure with every report field set, then changed by `f`.
fn report_seizure(f: impl FnOnce(&mut pb::Seizure)) -> pb::Seizure {
    let mut s = pb::Seizure {
        seized_at: NOW,
        country: "KE".into(),
        transport_mode: pb::TransportMode::Air as i32,
        detection_method: "x-ray".into(),
        reason: "no CITES permit".into(),
        cites_term: "SCA".into(),
        cites_unit: "kg".into(),
        estimated_value: Some(pb::Money {
            amount_minor: 1_200_000,
            currency: "USD".into(),
        }),
        disposal: "held as evidence".into(),
        legal_action: "2 arrested".into(),
        ..Default::default()
    };
    f(&mut s);
    s
}

/// The report fields of a seizure are accepted when well formed.
#[test]
fn seizure_report_fields_are_accepted() {
    let mut b = listing_body();
    b.payload = Some(pb::record_body::Payload::Seizure(report_seizure(|_| {})));
    validate::validate_body(&b, &validate::Limits::default()).expect("valid");
    b.payload = Some(pb::record_body::Payload::Seizure(report_seizure(|s| {
        s.cites_unit.clear()
    })));
    validate::validate_body(&b, &validate::Limits::default()).expect("a number of specimens");
}

fn listing(b: &mut pb::RecordBody) -> &mut pb::Listing {
    match &mut b.payload {
        Some(pb::record_body::Payload::Listing(l)) => l,
        _ => unreachable!("listing_body is a listing"),
    }
}

/// Each body rule names the field it protects.
#[test]
fn validation_rules() {
    use pb::record_body::Payload as P;
    let h = |b: &mut pb::RecordBody| b.handling.as_mut().map(std::mem::take).unwrap_or_default();
    type Mutation = Box<dyn FnOnce(&mut pb::RecordBody)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("schema_version", Box::new(|b| b.schema_version = 2)),
        ("author", Box::new(|b| b.author = "kenya".into())),
        ("created_at", Box::new(|b| b.created_at = 0)),
        ("handling", Box::new(|b| b.handling = None)),
        (
            "handling.tlp",
            Box::new(move |b| {
                let mut x = h(b);
                x.tlp = 0;
                b.handling = Some(x);
            }),
        ),
        (
            "handling.scope",
            Box::new(|b| {
                if let Some(h) = &mut b.handling {
                    h.scope = 0
                }
            }),
        ),
        (
            "handling.scope",
            Box::new(|b| {
                if let Some(h) = &mut b.handling {
                    h.tlp = pb::Tlp::Red as i32
                }
            }),
        ),
        (
            "handling.agencies",
            Box::new(|b| {
                if let Some(h) = &mut b.handling {
                    h.scope = pb::Scope::Agencies as i32
                }
            }),
        ),
        (
            "handling.agencies[0]",
            Box::new(|b| {
                if let Some(h) = &mut b.handling {
                    h.scope = pb::Scope::Agencies as i32;
                    h.agencies = vec!["nope".into()];
                }
            }),
        ),
        (
            "handling.groups",
            Box::new(|b| {
                if let Some(h) = &mut b.handling {
                    h.scope = pb::Scope::Groups as i32
                }
            }),
        ),
        (
            "handling.groups[0]",
            Box::new(|b| {
                if let Some(h) = &mut b.handling {
                    h.scope = pb::Scope::Groups as i32;
                    h.groups = vec!["bad name".into()];
                }
            }),
        ),
        (
            "handling.agencies",
            Box::new(|b| {
                if let Some(h) = &mut b.handling {
                    h.agencies = vec!["ZA-DFFE".into()]
                }
            }),
        ),
        (
            "handling.code",
            Box::new(|b| {
                if let Some(h) = &mut b.handling {
                    h.code = 0
                }
            }),
        ),
        (
            "handling.restrictions",
            Box::new(|b| {
                if let Some(h) = &mut b.handling {
                    h.code = pb::HandlingCode::H3 as i32
                }
            }),
        ),
        (
            "handling.source",
            Box::new(|b| {
                if let Some(h) = &mut b.handling {
                    h.source = 9
                }
            }),
        ),
        ("tags[0]", Box::new(|b| b.tags = vec!["".into()])),
        ("supersedes", Box::new(|b| b.supersedes = "abc".into())),
        ("links[0]", Box::new(|b| b.links = vec!["zz".into()])),
        ("expires_at", Box::new(|b| b.expires_at = NOW - 1)),
        ("payload", Box::new(|b| b.payload = None)),
        (
            "listing.platform",
            Box::new(|b| listing(b).platform.clear()),
        ),
        (
            "listing.url",
            Box::new(|b| listing(b).url = "ftp://x".into()),
        ),
        (
            "listing",
            Box::new(|b| {
                let l = listing(b);
                l.url.clear();
                l.title.clear();
            }),
        ),
        (
            "listing.price.currency",
            Box::new(|b| {
                if let Some(p) = &mut listing(b).price {
                    p.currency = "dollars".into()
                }
            }),
        ),
        (
            "listing.price.amount_minor",
            Box::new(|b| {
                if let Some(p) = &mut listing(b).price {
                    p.amount_minor = -1
                }
            }),
        ),
        (
            "listing.country",
            Box::new(|b| listing(b).country = "Kenya".into()),
        ),
        (
            "listing.species.scientific_name",
            Box::new(|b| listing(b).species = Some(pb::Species::default())),
        ),
        (
            "listing.title",
            Box::new(|b| listing(b).title = "a\u{0}b".into()),
        ),
        (
            "listing.selectors[0]",
            Box::new(|b| {
                listing(b).selectors = vec![pb::Selector {
                    kind: 1,
                    value: "0712 345".into(),
                }]
            }),
        ),
        (
            "listing.selectors[0]",
            Box::new(|b| {
                listing(b).selectors = vec![pb::Selector {
                    kind: 99,
                    value: "A@B.COM".into(),
                }]
            }),
        ),
        (
            "listing.evidence[0].sha256",
            Box::new(|b| {
                listing(b).evidence = vec![pb::Evidence {
                    sha256: "x".into(),
                    ..Default::default()
                }]
            }),
        ),
        (
            "listing.text",
            Box::new(|b| listing(b).text = "x".repeat(validate::MAX_TEXT + 1)),
        ),
        (
            "entity.entity_type",
            Box::new(|b| b.payload = Some(P::Entity(pb::Entity::default()))),
        ),
        (
            "entity",
            Box::new(|b| {
                b.payload = Some(P::Entity(pb::Entity {
                    entity_type: 1,
                    ..Default::default()
                }))
            }),
        ),
        (
            "seizure.seized_at",
            Box::new(|b| b.payload = Some(P::Seizure(pb::Seizure::default()))),
        ),
        (
            "seizure.country",
            Box::new(|b| {
                b.payload = Some(P::Seizure(pb::Seizure {
                    seized_at: NOW,
                    ..Default::default()
                }))
            }),
        ),
        (
            "seizure.cites_term",
            Box::new(|b| {
                b.payload = Some(P::Seizure(report_seizure(|s| {
                    s.cites_term = "scales".into()
                })))
            }),
        ),
        (
            "seizure.cites_unit",
            Box::new(|b| {
                b.payload = Some(P::Seizure(report_seizure(|s| {
                    s.cites_unit = "tonnes".into()
                })))
            }),
        ),
        (
            "seizure.transport_mode",
            Box::new(|b| b.payload = Some(P::Seizure(report_seizure(|s| s.transport_mode = 42)))),
        ),
        (
            "seizure.estimated_value.currency",
            Box::new(|b| {
                b.payload = Some(P::Seizure(report_seizure(|s| {
                    s.estimated_value = Some(pb::Money {
                        amount_minor: 5,
                        currency: "dollars".into(),
                    })
                })))
            }),
        ),
        (
            "seizure.legal_action",
            Box::new(|b| {
                b.payload = Some(P::Seizure(report_seizure(|s| {
                    s.legal_action = "x\u{7}".into()
                })))
            }),
        ),
        (
            "note.text",
            Box::new(|b| b.payload = Some(P::Note(pb::Note::default()))),
        ),
        (
            "retraction.target",
            Box::new(|b| b.payload = Some(P::Retraction(pb::Retraction::default()))),
        ),
        (
            "retraction.reason",
            Box::new(|b| {
                b.payload = Some(P::Retraction(pb::Retraction {
                    target: "a".repeat(64),
                    reason: " ".into(),
                }))
            }),
        ),
        (
            "operation_proposal.participants",
            Box::new(|b| {
                b.payload = Some(P::OperationProposal(pb::OperationProposal {
                    code_name: "X".into(),
                    ..Default::default()
                }))
            }),
        ),
        (
            "operation_response.answer",
            Box::new(|b| {
                b.payload = Some(P::OperationResponse(pb::OperationResponse {
                    operation: "a".repeat(64),
                    ..Default::default()
                }))
            }),
        ),
        (
            "operation_update.status",
            Box::new(|b| {
                b.payload = Some(P::OperationUpdate(pb::OperationUpdate {
                    operation: "a".repeat(64),
                    ..Default::default()
                }))
            }),
        ),
    ];
    for (field, mutate) in cases {
        let e = invalid(mutate);
        assert_eq!(e.field, field, "expected a rejection of {field}, got {e}");
    }
}

/// The valid forms of each rule pass: RED with agencies, H3 with text, groups.
#[test]
fn valid_handling_variants() {
    let mut b = listing_body();
    b.handling = Some(pb::Handling {
        tlp: pb::Tlp::Red as i32,
        scope: pb::Scope::Agencies as i32,
        agencies: vec!["ZA-DFFE".into()],
        code: pb::HandlingCode::H3 as i32,
        restrictions: "no use before 2027".into(),
        source: pb::SourceEvaluation::B as i32,
        information: pb::InformationEvaluation::InformationEvaluation2 as i32,
        ..Default::default()
    });
    validate::validate_body(&b, &Limits::default()).expect("valid");
    b.handling = Some(pb::Handling {
        tlp: pb::Tlp::Green as i32,
        scope: pb::Scope::Groups as i32,
        groups: vec!["SADC".into()],
        code: pb::HandlingCode::H2 as i32,
        ..Default::default()
    });
    validate::validate_body(&b, &Limits::default()).expect("valid");
}

/// Re-verifying many stored records at once gives each its own verdict,
/// the same as one at a time: a bad one fails only its own batch.
#[test]
fn batched_signature_statuses_match_single_checks() {
    let k = key(1);
    let mut records: Vec<Record> = (0..150)
        .map(|i| {
            let mut b = listing_body();
            b.created_at = NOW - i;
            Record::sign(b, &k)
        })
        .collect();
    // Damage three, in different batches of 64: a flipped signature byte,
    // a key of the wrong length, a body byte.
    let damage = |r: &mut Record, how: usize| match how {
        0 => r.signed.signature[5] ^= 1,
        1 => r.signed.signer_public_key.truncate(31),
        _ => r.signed.body[7] ^= 1,
    };
    for (i, how) in [(3, 0), (70, 1), (149, 2)] {
        damage(&mut records[i], how);
    }
    let refs: Vec<&Record> = records.iter().collect();
    let batched = Record::signature_statuses(&refs);
    assert_eq!(batched.len(), records.len());
    for (i, (r, b)) in records.iter().zip(&batched).enumerate() {
        let single = r.signature_status();
        assert_eq!(b.is_ok(), single.is_ok(), "record {i}");
        assert_eq!(b.is_ok(), ![3, 70, 149].contains(&i), "record {i}");
    }
    assert!(Record::signature_statuses(&[]).is_empty());
}

#[test]
fn every_refusal_reason_is_a_counted_reason() {
    use crate::telemetry::REJECT_REASONS;
    let all = [
        RecordError::MalformedBody(String::new()),
        RecordError::SignatureLength(3),
        RecordError::BadSignerKey(3),
        RecordError::BadSignature,
        RecordError::WeakSignerKey,
        RecordError::UnboundKey {
            author: String::new(),
            key: String::new(),
        },
        RecordError::RevokedKey {
            author: String::new(),
            key: String::new(),
            revoked_at: 0,
        },
        RecordError::FutureTimestamp {
            created_at: 0,
            now: 0,
            ahead_ms: 0,
            allowed_ms: 0,
        },
        RecordError::Invalid(crate::record::ValidationError {
            field: String::new(),
            problem: String::new(),
        }),
        RecordError::TooLarge { size: 2, limit: 1 },
    ];
    for e in &all {
        assert!(
            REJECT_REASONS.contains(&e.reason()),
            "{e:?}: {}",
            e.reason()
        );
    }
}
