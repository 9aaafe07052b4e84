//! Properties of signing over random records: what is signed verifies,
//! with its exact bytes and id, and a change of any single byte of the
//! body, the signature or the key is refused.

use proptest::prelude::*;

use super::*;

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9 àéü€,.:;!?-]{0,199}"
}

fn note_body() -> impl Strategy<Value = pb::RecordBody> {
    (
        text(),
        text(),
        proptest::collection::vec("[a-z0-9-]{1,20}", 0..5),
        0i64..10_000_000,
    )
        .prop_map(|(title, text, tags, age)| {
            let mut b = listing_body();
            b.created_at = NOW - age;
            b.tags = tags;
            b.payload = Some(pb::record_body::Payload::Note(pb::Note {
                title,
                text,
                ..Default::default()
            }));
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn what_is_signed_verifies_with_its_bytes_and_id(body in note_body(), seed in 1u8..=255) {
        let k = key(seed);
        let r = Record::sign(body, &k);
        let v = verify(r.signed().clone(), &k).expect("a signed record verifies");
        prop_assert_eq!(v.id(), r.id());
        prop_assert_eq!(v.signed(), r.signed());
        prop_assert_eq!(v.id(), RecordId::of_body(&r.signed().body));
    }

    #[test]
    fn any_single_byte_change_is_refused(
        body in note_body(),
        seed in 1u8..=255,
        part in 0usize..3,
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let k = key(seed);
        let mut signed = Record::sign(body, &k).signed().clone();
        let bytes = match part {
            0 => &mut signed.body,
            1 => &mut signed.signature,
            _ => &mut signed.signer_public_key,
        };
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        prop_assert!(verify(signed, &k).is_err(), "a change at byte {} of part {} verified", i, part);
    }
}
