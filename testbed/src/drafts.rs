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
