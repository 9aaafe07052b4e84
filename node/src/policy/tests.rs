use wildnet_proto::v1 as pb;

use super::*;

pub(super) const NOW: i64 = 1_800_000_000_000;
pub(super) const AGENCIES: [&str; 5] = ["KE-KWS", "ZA-DFFE", "GB-NWCU", "VN-EP", "TH-DNP"];

/// KE, ZA, GB, VN active; TH revoked; group SADC = {KE, ZA}; group EMPTY = {}.
pub(super) fn manifest() -> Trusted {
    let agencies = AGENCIES
        .iter()
        .map(|id| pb::ManifestAgency {
            id: id.to_string(),
            revoked_at: if *id == "TH-DNP" { NOW - 1 } else { 0 },
            ..Default::default()
        })
        .collect();
    let body = pb::ManifestBody {
        version: 3,
        agencies,
        groups: vec![
            pb::ManifestGroup {
                name: "SADC".into(),
                members: vec!["KE-KWS".into(), "ZA-DFFE".into()],
            },
            pb::ManifestGroup {
                name: "EMPTY".into(),
                members: vec![],
            },
        ],
        ..Default::default()
    };
    Trusted::for_display(pb::Manifest::default(), body)
}

pub(super) fn body(
    author: &str,
    tlp: pb::Tlp,
    scope: pb::Scope,
    list: &[&str],
    code: pb::HandlingCode,
) -> pb::RecordBody {
    let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    pb::RecordBody {
        author: author.into(),
        handling: Some(pb::Handling {
            tlp: tlp as i32,
            scope: scope as i32,
            agencies: if scope == pb::Scope::Agencies {
                list.clone()
            } else {
                vec![]
            },
            groups: if scope == pb::Scope::Groups {
                list
            } else {
                vec![]
            },
            code: code as i32,
            ..Default::default()
        }),
        payload: Some(pb::record_body::Payload::Note(pb::Note::default())),
        ..Default::default()
    }
}

/// The audience of each scope, the author always included, revoked
/// agencies and unknown or empty groups never adding anyone.
#[test]
fn audiences() {
    let m = manifest();
    let a = |scope, list: &[&str]| {
        audience(
            &body("KE-KWS", pb::Tlp::Amber, scope, list, pb::HandlingCode::H0),
            &m,
            NOW,
        )
    };
    assert_eq!(a(pb::Scope::Local, &[]), ["KE-KWS"]);
    assert_eq!(a(pb::Scope::Agencies, &["GB-NWCU"]), ["KE-KWS", "GB-NWCU"]);
    assert_eq!(
        a(pb::Scope::Agencies, &["TH-DNP"]),
        ["KE-KWS"],
        "revoked agency"
    );
    assert_eq!(
        a(pb::Scope::Agencies, &["XX-NOBODY"]),
        ["KE-KWS"],
        "unknown agency"
    );
    assert_eq!(a(pb::Scope::Groups, &["SADC"]), ["KE-KWS", "ZA-DFFE"]);
    assert_eq!(
        a(pb::Scope::Groups, &["EMPTY"]),
        ["KE-KWS"],
        "empty group: nobody"
    );
    assert_eq!(
        a(pb::Scope::Groups, &["NO-SUCH"]),
        ["KE-KWS"],
        "unknown group: nobody"
    );
    assert_eq!(
        a(pb::Scope::Federation, &[]),
        ["KE-KWS", "GB-NWCU", "VN-EP", "ZA-DFFE"]
    );
    assert_eq!(a(pb::Scope::Unspecified, &[]), ["KE-KWS"]);
    // A revoked author still sees its own records; an unknown author too.
    let b = body(
        "TH-DNP",
        pb::Tlp::Green,
        pb::Scope::Federation,
        &[],
        pb::HandlingCode::H0,
    );
    assert!(in_audience(&b, "TH-DNP", &m, NOW));
}

/// Every scope × TLP × code × sender × peer × policy: the decision matches
/// the rules written out independently here.
#[test]
fn may_send_exhaustive() {
    let m = manifest();
    let scopes: [(pb::Scope, &[&str]); 6] = [
        (pb::Scope::Local, &[]),
        (pb::Scope::Agencies, &["ZA-DFFE"]),
        (pb::Scope::Agencies, &["ZA-DFFE", "GB-NWCU", "TH-DNP"]),
        (pb::Scope::Groups, &["SADC"]),
        (pb::Scope::Groups, &["EMPTY"]),
        (pb::Scope::Federation, &[]),
    ];
    let tlps = [
        pb::Tlp::Clear,
        pb::Tlp::Green,
        pb::Tlp::Amber,
        pb::Tlp::AmberStrict,
        pb::Tlp::Red,
    ];
    let codes = [
        pb::HandlingCode::H0,
        pb::HandlingCode::H1,
        pb::HandlingCode::H2,
        pb::HandlingCode::H3,
    ];
    let policies = [
        PeerPolicy::default(),
        PeerPolicy {
            max_tlp: pb::Tlp::Amber,
            ..Default::default()
        },
        PeerPolicy {
            relay: false,
            ..Default::default()
        },
        PeerPolicy {
            kinds: Some(vec!["listing".into()]),
            ..Default::default()
        },
    ];
    let mut checked = 0;
    for (scope, list) in scopes {
        for tlp in tlps {
            for code in codes {
                let b = body("KE-KWS", tlp, scope, list, code);
                for me in AGENCIES {
                    for peer in AGENCIES {
                        for p in &policies {
                            let in_aud = peer == "KE-KWS"
                                || (peer != "TH-DNP"
                                    && match scope {
                                        pb::Scope::Agencies => list.contains(&peer),
                                        pb::Scope::Groups => {
                                            list.contains(&"SADC") && (peer == "ZA-DFFE")
                                        }
                                        pb::Scope::Federation => true,
                                        _ => false,
                                    });
                            let relaying = me != "KE-KWS";
                            let expect = if !in_aud || peer == me {
                                Err(Deny::NotInAudience)
                            } else if peer == "KE-KWS" {
                                Err(Deny::IsAuthor)
                            } else if tlp as i32 > p.max_tlp as i32 {
                                Err(Deny::TlpAbovePolicy)
                            } else if p.kinds.is_some() {
                                Err(Deny::KindNotShared)
                            } else if relaying && code == pb::HandlingCode::H2 {
                                Err(Deny::NoOnwardDissemination)
                            } else if relaying && !p.relay {
                                Err(Deny::RelayNotAllowed)
                            } else {
                                Ok(())
                            };
                            assert_eq!(
                                may_send(&b, me, peer, &m, p, NOW, &[]),
                                expect,
                                "{scope:?} {list:?} {tlp:?} {code:?} {me}->{peer} {p:?}"
                            );
                            // The stored envelope decides exactly as the body.
                            let e = crate::record::Envelope::of(&b);
                            assert_eq!(may_send(&e, me, peer, &m, p, NOW, &[]), expect);
                            assert_eq!(
                                may_receive(&e, me, peer, &m, NOW, &[]),
                                may_receive(&b, me, peer, &m, NOW, &[])
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 6 * 5 * 4 * 5 * 5 * 4);
}

/// A receiver refuses what is outside its audience and H2 from a relayer.
#[test]
fn may_receive_rules() {
    let m = manifest();
    let b = body(
        "KE-KWS",
        pb::Tlp::Amber,
        pb::Scope::Agencies,
        &["ZA-DFFE"],
        pb::HandlingCode::H0,
    );
    assert_eq!(may_receive(&b, "ZA-DFFE", "KE-KWS", &m, NOW, &[]), Ok(()));
    assert_eq!(
        may_receive(&b, "GB-NWCU", "KE-KWS", &m, NOW, &[]),
        Err(Deny::NotInAudience)
    );
    assert_eq!(
        may_receive(&b, "ZA-DFFE", "GB-NWCU", &m, NOW, &[]),
        Ok(()),
        "relayed H0 is fine"
    );
    let h2 = body(
        "KE-KWS",
        pb::Tlp::Amber,
        pb::Scope::Federation,
        &[],
        pb::HandlingCode::H2,
    );
    assert_eq!(may_receive(&h2, "ZA-DFFE", "KE-KWS", &m, NOW, &[]), Ok(()));
    assert_eq!(
        may_receive(&h2, "ZA-DFFE", "GB-NWCU", &m, NOW, &[]),
        Err(Deny::NoOnwardDissemination)
    );
    let revoked_me = body(
        "KE-KWS",
        pb::Tlp::Green,
        pb::Scope::Federation,
        &[],
        pb::HandlingCode::H0,
    );
    assert_eq!(
        may_receive(&revoked_me, "TH-DNP", "KE-KWS", &m, NOW, &[]),
        Err(Deny::NotInAudience)
    );
}

/// Every pair of policies over three TLPs, kind sets drawn from two kinds
/// (or all) and both relay settings: `widens` must be true exactly when
/// some record (TLP × kind × own/relayed) is sent under the new policy and
/// not under the old one — an independent model of `may_send`'s policy part.
#[test]
fn widening_is_exactly_a_record_newly_sent() {
    let tlps = [pb::Tlp::Green, pb::Tlp::Amber, pb::Tlp::Red];
    let kind_sets: [Option<Vec<String>>; 5] = [
        None,
        Some(vec![]),
        Some(vec!["listing".into()]),
        Some(vec!["note".into()]),
        Some(vec!["listing".into(), "note".into()]),
    ];
    let mut policies = Vec::new();
    for t in tlps {
        for k in &kind_sets {
            for relay in [false, true] {
                policies.push(PeerPolicy {
                    max_tlp: t,
                    kinds: k.clone(),
                    relay,
                });
            }
        }
    }
    let sends = |p: &PeerPolicy, tlp: pb::Tlp, kind: &str, relayed: bool| {
        tlp as i32 <= p.max_tlp as i32
            && p.kinds.as_ref().is_none_or(|k| k.iter().any(|x| x == kind))
            && (!relayed || p.relay)
    };
    let mut widened = 0;
    for old in &policies {
        for new in &policies {
            let mut newly_sent = false;
            for tlp in [pb::Tlp::Clear, pb::Tlp::Green, pb::Tlp::Amber, pb::Tlp::Red] {
                for kind in ["listing", "note", "seizure"] {
                    for relayed in [false, true] {
                        newly_sent |=
                            sends(new, tlp, kind, relayed) && !sends(old, tlp, kind, relayed);
                    }
                }
            }
            assert_eq!(widens(old, new), newly_sent, "{old:?} -> {new:?}");
            widened += usize::from(newly_sent);
        }
    }
    assert!(widened > 0 && widened < policies.len() * policies.len());
    // Round trip through the wire form keeps the policy.
    for p in &policies {
        assert_eq!(&from_pb(&to_pb(p, 7)), p);
    }
}

#[test]
fn groups_of_lists_only_groups_naming_the_agency() {
    let m = manifest();
    assert_eq!(groups_of("KE-KWS", &m), vec!["SADC".to_string()]);
    assert!(groups_of("GB-NWCU", &m).is_empty());
}

/// Agencies an operation's lead added join the audience of operation
/// records only, and only while active; for every kind, scope and agency,
/// `added` never takes anyone out, and adds exactly the active added ones.
#[test]
fn added_participants_join_operation_records_only() {
    use pb::record_body::Payload as P;
    let m = manifest();
    let payloads = [
        (P::OperationProposal(pb::OperationProposal::default()), true),
        (P::OperationResponse(pb::OperationResponse::default()), true),
        (P::OperationUpdate(pb::OperationUpdate::default()), true),
        (P::Note(pb::Note::default()), false),
        (P::Listing(pb::Listing::default()), false),
        (P::Retraction(pb::Retraction::default()), false),
    ];
    let scopes: [(pb::Scope, &[&str]); 3] = [
        (pb::Scope::Agencies, &["ZA-DFFE"]),
        (pb::Scope::Local, &[]),
        (pb::Scope::Federation, &[]),
    ];
    let added: Vec<String> = vec!["GB-NWCU".into(), "TH-DNP".into()];
    let mut checked = 0;
    for (payload, is_op) in &payloads {
        for (scope, list) in scopes {
            let mut b = body("KE-KWS", pb::Tlp::Amber, scope, list, pb::HandlingCode::H0);
            b.payload = Some(payload.clone());
            for agency in AGENCIES {
                let signed = in_audience(&b, agency, &m, NOW);
                let with = in_audience_with(&b, agency, &m, NOW, &added);
                let e = crate::record::Envelope::of(&b);
                assert_eq!(in_audience_with(&e, agency, &m, NOW, &added), with);
                // TH-DNP is revoked: being added does not bring it back.
                let joins = *is_op && agency == "GB-NWCU";
                assert_eq!(with, signed || joins, "{payload:?} {scope:?} {agency}");
                let sent = may_send(
                    &b,
                    "KE-KWS",
                    agency,
                    &m,
                    &PeerPolicy::default(),
                    NOW,
                    &added,
                );
                let received = may_receive(&b, agency, "KE-KWS", &m, NOW, &added);
                if agency != "KE-KWS" {
                    assert_eq!(sent.is_ok(), with, "{payload:?} {scope:?} {agency}");
                    assert_eq!(received.is_ok(), with, "{payload:?} {scope:?} {agency}");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 6 * 3 * 5);
}
