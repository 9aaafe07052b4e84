//! Properties of the sharing rules over random handling and policies:
//! narrowing a record's scope never grows its audience, and narrowing a
//! peer's policy never lets more through.

use proptest::prelude::*;
use wildnet_proto::v1 as pb;

use super::tests::{AGENCIES, NOW, body, manifest};
use super::*;

fn scope() -> impl Strategy<Value = pb::Scope> {
    prop_oneof![
        Just(pb::Scope::Local),
        Just(pb::Scope::Agencies),
        Just(pb::Scope::Groups),
        Just(pb::Scope::Federation),
    ]
}

fn tlp() -> impl Strategy<Value = pb::Tlp> {
    prop_oneof![
        Just(pb::Tlp::Clear),
        Just(pb::Tlp::Green),
        Just(pb::Tlp::Amber),
        Just(pb::Tlp::AmberStrict),
        Just(pb::Tlp::Red),
    ]
}

fn code() -> impl Strategy<Value = pb::HandlingCode> {
    prop_oneof![
        Just(pb::HandlingCode::H0),
        Just(pb::HandlingCode::H1),
        Just(pb::HandlingCode::H2),
        Just(pb::HandlingCode::H3),
    ]
}

/// A list of agencies or group names and a sub-list of it.
fn narrowed_list(scope: pb::Scope) -> BoxedStrategy<(Vec<&'static str>, Vec<&'static str>)> {
    let names: Vec<&'static str> = match scope {
        pb::Scope::Groups => vec!["SADC", "EMPTY", "NOSUCH"],
        _ => AGENCIES.to_vec(),
    };
    let n = names.len();
    proptest::sample::subsequence(names, 0..=n)
        .prop_flat_map(|list| {
            let n = list.len();
            (
                Just(list.clone()),
                proptest::sample::subsequence(list, 0..=n),
            )
        })
        .boxed()
}

/// A policy and a narrower one: lower TLP, fewer kinds, relay off.
fn narrowed_policy() -> impl Strategy<Value = (PeerPolicy, PeerPolicy)> {
    let kinds = proptest::option::of(proptest::sample::subsequence(
        crate::record::KINDS.to_vec(),
        0..=crate::record::KINDS.len(),
    ));
    (
        tlp(),
        tlp(),
        kinds,
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(a, b, kinds, relay, drop_relay, cut)| {
            let kinds: Option<Vec<String>> =
                kinds.map(|ks| ks.into_iter().map(str::to_string).collect());
            let narrow_kinds = match &kinds {
                None if cut % 2 == 0 => None,
                None => Some(vec!["note".to_string()]),
                Some(ks) => Some(ks.iter().filter(|_| cut % 3 != 0).cloned().collect()),
            };
            let wide = PeerPolicy {
                max_tlp: a.max(b),
                kinds,
                relay,
            };
            let narrow = PeerPolicy {
                max_tlp: a.min(b),
                kinds: narrow_kinds,
                relay: relay && !drop_relay,
            };
            (wide, narrow)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Dropping names from an `agencies` or `groups` list, or moving to a
    /// narrower scope, never adds anyone to the audience.
    #[test]
    fn narrowing_a_scope_never_grows_the_audience(
        (scope, (list, fewer)) in scope().prop_flat_map(|s| (Just(s), narrowed_list(s))),
        author in proptest::sample::select(AGENCIES.to_vec()),
        tlp in tlp(),
        code in code(),
    ) {
        let m = manifest();
        let wide = audience(&body(author, tlp, scope, &list, code), &m, NOW);
        let narrow = audience(&body(author, tlp, scope, &fewer, code), &m, NOW);
        prop_assert!(narrow.iter().all(|a| wide.contains(a)), "{narrow:?} ⊄ {wide:?}");
        let local = audience(&body(author, tlp, pb::Scope::Local, &[], code), &m, NOW);
        let all = audience(&body(author, tlp, pb::Scope::Federation, &[], code), &m, NOW);
        prop_assert_eq!(&local, &vec![author.to_string()]);
        prop_assert!(wide.iter().all(|a| all.contains(a)), "{wide:?} ⊄ {all:?}");
        prop_assert_eq!(&wide[0], author, "the author is always in it, first");
    }

    /// Whatever a narrower policy sends, the wider one sends too; and no
    /// policy sends outside the audience.
    #[test]
    fn narrowing_a_policy_never_lets_more_through(
        (wide, narrow) in narrowed_policy(),
        scope in scope(),
        tlp in tlp(),
        code in code(),
        author in proptest::sample::select(AGENCIES.to_vec()),
        me in proptest::sample::select(AGENCIES.to_vec()),
        peer in proptest::sample::select(AGENCIES.to_vec()),
    ) {
        let m = manifest();
        let list: Vec<&str> = match scope {
            pb::Scope::Groups => vec!["SADC"],
            pb::Scope::Agencies => vec!["ZA-DFFE", "GB-NWCU"],
            _ => vec![],
        };
        let b = body(author, tlp, scope, &list, code);
        let sent = |p: &PeerPolicy| may_send(&b, me, peer, &m, p, NOW, &[]).is_ok();
        if sent(&narrow) {
            prop_assert!(sent(&wide), "{narrow:?} sends, {wide:?} does not");
            prop_assert!(in_audience(&b, peer, &m, NOW));
        }
        prop_assert!(!widens(&wide, &narrow), "narrowing {wide:?} to {narrow:?} counted as widening");
    }
}
