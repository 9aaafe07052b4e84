//! Record drafts for tests and benchmarks.

use wildnet_proto::v1 as pb;

/// A note draft with `handling` (`None`: the node's defaults).
pub fn note(title: &str, text: &str, handling: Option<pb::Handling>) -> pb::PublishRequest {
    pb::PublishRequest {
        draft: Some(pb::RecordBody {
            handling,
            payload: Some(pb::record_body::Payload::Note(pb::Note {
                title: title.into(),
                text: text.into(),
                ..Default::default()
            })),
            ..Default::default()
        }),
    }
}

/// Handling with `tlp` and `scope`; `list` names the agencies or groups of
/// an `agencies:`/`groups:` scope; `H3` gets a restriction.
pub fn handling(
    tlp: pb::Tlp,
    scope: pb::Scope,
    list: &[&str],
    code: pb::HandlingCode,
) -> pb::Handling {
    let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    let only = |s: pb::Scope| if scope == s { list.clone() } else { vec![] };
    pb::Handling {
        tlp: tlp as i32,
        scope: scope as i32,
        agencies: only(pb::Scope::Agencies),
        groups: only(pb::Scope::Groups),
        code: code as i32,
        restrictions: if code == pb::HandlingCode::H3 {
            "no court use".into()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

/// Note `n` of the handling matrix: its text names its handling.
pub fn matrix(
    n: usize,
    tlp: pb::Tlp,
    scope: pb::Scope,
    list: &[&str],
    code: pb::HandlingCode,
) -> pb::PublishRequest {
    note(
        &format!("matrix {n}"),
        &format!("record {n} {tlp:?} {scope:?} {code:?}"),
        Some(handling(tlp, scope, list, code)),
    )
}

/// A complete body of matrix note `n` (GREEN) by `author`, dated now, to
/// sign with that agency's key outside any node (a rogue peer's records).
pub fn signed_note_body(author: &str, n: usize, scope: pb::Scope) -> pb::RecordBody {
    let mut b = matrix(n, pb::Tlp::Green, scope, &[], pb::HandlingCode::H0)
        .draft
        .unwrap_or_default();
    b.schema_version = wildnet_node::record::SCHEMA_VERSION;
    b.author = author.into();
    b.created_at = chrono::Utc::now().timestamp_millis();
    b
}

/// A selector as typed, `kind:value` (normalised by the node that signs).
pub fn selector(text: &str) -> pb::Selector {
    let (kind, value) = text.split_once(':').unwrap_or(("", text));
    pb::Selector {
        kind: wildnet_node::record::selector::kind_named(kind)
            .map(|k| k as i32)
            .unwrap_or(0),
        value: value.into(),
    }
}

/// GREEN, every agency of the federation, H0.
pub fn federation_wide() -> pb::Handling {
    handling(
        pb::Tlp::Green,
        pb::Scope::Federation,
        &[],
        pb::HandlingCode::H0,
    )
}

fn publish(payload: pb::record_body::Payload, handling: pb::Handling) -> pb::PublishRequest {
    pb::PublishRequest {
        draft: Some(pb::RecordBody {
            handling: Some(handling),
            payload: Some(payload),
            ..Default::default()
        }),
    }
}

/// A listing seen in `country` on `platform` with `selectors` (`kind:value`).
pub fn listing_with(
    title: &str,
    platform: &str,
    country: &str,
    selectors: &[&str],
    handling: pb::Handling,
) -> pb::PublishRequest {
    let l = pb::Listing {
        platform: platform.into(),
        title: title.into(),
        country: country.into(),
        selectors: selectors.iter().map(|s| selector(s)).collect(),
        ..Default::default()
    };
    publish(pb::record_body::Payload::Listing(l), handling)
}

/// A seizure in `country` at `place`, its offenders' `selectors`.
pub fn seizure_with(
    place: &str,
    country: &str,
    selectors: &[&str],
    handling: pb::Handling,
) -> pb::PublishRequest {
    let s = pb::Seizure {
        seized_at: chrono::Utc::now().timestamp_millis() - 86_400_000,
        place: place.into(),
        country: country.into(),
        selectors: selectors.iter().map(|s| selector(s)).collect(),
        ..Default::default()
    };
    publish(pb::record_body::Payload::Seizure(s), handling)
}

/// A note naming `selectors`.
pub fn note_with(text: &str, selectors: &[&str], handling: pb::Handling) -> pb::PublishRequest {
    let n = pb::Note {
        title: String::new(),
        text: text.into(),
        selectors: selectors.iter().map(|s| selector(s)).collect(),
    };
    publish(pb::record_body::Payload::Note(n), handling)
}

/// An operation proposal `code_name` to `participants`, targeting
/// `targets` (record ids, or selectors `kind:value`), with `tasks`
/// (`(agency, text)`), answers due by `respond_by` (unix ms; 0: the
/// start), its window starting a day from now. The node scopes it.
pub fn proposal(
    code_name: &str,
    participants: &[&str],
    targets: &[&str],
    tasks: &[(&str, &str)],
    respond_by: i64,
) -> pb::PublishRequest {
    let day = 86_400_000;
    let start = chrono::Utc::now().timestamp_millis() + day;
    let (sels, ids): (Vec<&str>, Vec<&str>) = targets.iter().partition(|t| t.contains(':'));
    let p = pb::OperationProposal {
        code_name: code_name.into(),
        objective: format!("{code_name}: arrests along the route"),
        window_start: start,
        window_end: start + 7 * day,
        participants: participants.iter().map(|s| s.to_string()).collect(),
        target_records: ids.iter().map(|s| s.to_string()).collect(),
        target_selectors: sels.iter().map(|s| selector(s)).collect(),
        tasks: tasks
            .iter()
            .map(|(a, t)| pb::OperationTask {
                agency: a.to_string(),
                description: t.to_string(),
            })
            .collect(),
        respond_by,
    };
    publish(
        pb::record_body::Payload::OperationProposal(p),
        Default::default(),
    )
}

/// An answer to operation `op`.
pub fn response(
    op: &str,
    answer: pb::OperationAnswer,
    commitments: &str,
    contact: &str,
) -> pb::PublishRequest {
    let r = pb::OperationResponse {
        operation: op.into(),
        answer: answer as i32,
        commitments: commitments.into(),
        contact: contact.into(),
    };
    publish(
        pb::record_body::Payload::OperationResponse(r),
        Default::default(),
    )
}

/// An update of operation `op` to `status`, adding `add`, linking
/// `seizures`, with `outcome`.
pub fn update(
    op: &str,
    status: pb::OperationStatus,
    add: &[&str],
    seizures: &[&str],
    outcome: &str,
) -> pb::PublishRequest {
    let u = pb::OperationUpdate {
        operation: op.into(),
        status: status as i32,
        outcome: outcome.into(),
        seizures: seizures.iter().map(|s| s.to_string()).collect(),
        add_participants: add.iter().map(|s| s.to_string()).collect(),
    };
    publish(
        pb::record_body::Payload::OperationUpdate(u),
        Default::default(),
    )
}
