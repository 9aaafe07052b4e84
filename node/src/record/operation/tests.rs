//! The operation rules, table by table: who counts, who takes part, where
//! the operation stands, what is overdue.

use ed25519_dalek::SigningKey;
use wildnet_proto::v1 as pb;

use super::*;
use crate::record::Record;

const T0: i64 = 1_780_000_000_000;
const DAY: i64 = 86_400_000;

fn sign(author: &str, at: i64, payload: P) -> Record {
    let seed = author
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    let body = pb::RecordBody {
        schema_version: 1,
        author: author.into(),
        created_at: at,
        payload: Some(payload),
        ..Default::default()
    };
    Record::sign(body, &SigningKey::from_bytes(&[seed; 32]))
}

fn proposal(participants: &[&str]) -> Record {
    sign(
        "KE-KWS",
        T0,
        P::OperationProposal(pb::OperationProposal {
            code_name: "THUNDERBIRD".into(),
            objective: "dismantle the scales network".into(),
            window_start: T0 + 10 * DAY,
            window_end: T0 + 20 * DAY,
            participants: participants.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }),
    )
}

fn response(op: &Record, author: &str, at: i64, answer: pb::OperationAnswer) -> Record {
    sign(
        author,
        at,
        P::OperationResponse(pb::OperationResponse {
            operation: op.id().to_hex(),
            answer: answer as i32,
            commitments: format!("{author} commits"),
            contact: format!("desk@{author}"),
        }),
    )
}

fn update(op: &Record, author: &str, at: i64, status: pb::OperationStatus, add: &[&str]) -> Record {
    sign(
        author,
        at,
        P::OperationUpdate(pb::OperationUpdate {
            operation: op.id().to_hex(),
            status: status as i32,
            add_participants: add.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }),
    )
}

#[test]
fn operation_of_names_the_proposal() {
    let p = proposal(&["TZ-WD"]);
    assert_eq!(operation_of(&p), Some(p.id()));
    let r = response(&p, "TZ-WD", T0 + 1, pb::OperationAnswer::Accept);
    assert_eq!(operation_of(&r), Some(p.id()));
    let u = update(&p, "KE-KWS", T0 + 1, pb::OperationStatus::Active, &[]);
    assert_eq!(operation_of(&u), Some(p.id()));
    let note = sign("KE-KWS", T0, P::Note(pb::Note::default()));
    assert_eq!(operation_of(&note), None);
    assert!(is_operation(p.body()) && is_operation(r.body()) && !is_operation(note.body()));
}

#[test]
fn only_the_lead_updates_and_only_participants_answer() {
    let p = proposal(&["TZ-WD", "UG-UWA"]);
    let cases: Vec<(Record, Result<(), NotCounted>)> = vec![
        (
            response(&p, "TZ-WD", T0 + 1, pb::OperationAnswer::Accept),
            Ok(()),
        ),
        (
            response(&p, "ZA-DFFE", T0 + 1, pb::OperationAnswer::Accept),
            Err(NotCounted::NotAParticipant {
                author: "ZA-DFFE".into(),
            }),
        ),
        (
            response(&p, "KE-KWS", T0 + 1, pb::OperationAnswer::Accept),
            Err(NotCounted::ResponseByLead),
        ),
        (
            update(&p, "KE-KWS", T0 + 1, pb::OperationStatus::Active, &[]),
            Ok(()),
        ),
        (
            update(&p, "TZ-WD", T0 + 1, pb::OperationStatus::Cancelled, &[]),
            Err(NotCounted::UpdateNotByLead {
                author: "TZ-WD".into(),
                lead: "KE-KWS".into(),
            }),
        ),
        (
            response(
                &proposal(&["ZA-DFFE"]),
                "TZ-WD",
                T0,
                pb::OperationAnswer::Accept,
            ),
            Err(NotCounted::NotThisOperation),
        ),
    ];
    let op = Operation::assemble(p.clone(), Vec::new());
    for (rec, want) in cases {
        assert_eq!(op.check(&rec), want, "{}", rec.kind());
    }
}

#[test]
fn a_participant_the_lead_added_may_answer_and_a_forged_addition_adds_nobody() {
    let p = proposal(&["TZ-WD"]);
    let late = response(&p, "ZA-DFFE", T0 + 3, pb::OperationAnswer::Accept);
    let forged = update(
        &p,
        "TZ-WD",
        T0 + 1,
        pb::OperationStatus::Planned,
        &["GB-NWCU"],
    );
    let outsider = response(&p, "GB-NWCU", T0 + 4, pb::OperationAnswer::Accept);
    let added = update(
        &p,
        "KE-KWS",
        T0 + 2,
        pb::OperationStatus::Planned,
        &["ZA-DFFE", "TZ-WD"],
    );
    // Any arrival order gives the same operation.
    for order in [
        vec![
            late.clone(),
            forged.clone(),
            outsider.clone(),
            added.clone(),
        ],
        vec![
            added.clone(),
            outsider.clone(),
            late.clone(),
            forged.clone(),
        ],
    ] {
        let op = Operation::assemble(p.clone(), order);
        assert_eq!(
            op.added(),
            vec!["ZA-DFFE".to_string()],
            "TZ-WD was named already"
        );
        assert_eq!(
            op.participants(),
            vec!["TZ-WD".to_string(), "ZA-DFFE".to_string()]
        );
        assert_eq!(op.audience(), vec!["KE-KWS", "TZ-WD", "ZA-DFFE"]);
        let counted: Vec<RecordId> = op.counted.iter().map(Record::id).collect();
        assert_eq!(counted, vec![added.id(), late.id()], "time order");
        let ignored: Vec<RecordId> = op.ignored.iter().map(|(r, _)| r.id()).collect();
        assert_eq!(ignored.len(), 2);
        assert!(ignored.contains(&forged.id()) && ignored.contains(&outsider.id()));
        assert_eq!(op.latest_responses().len(), 1);
    }
}

#[test]
fn status_follows_the_leads_latest_update() {
    let p = proposal(&["TZ-WD"]);
    let op = Operation::assemble(p.clone(), Vec::new());
    assert_eq!(op.status(), Status::Proposed);
    let op = Operation::assemble(
        p.clone(),
        vec![
            update(&p, "KE-KWS", T0 + 2, pb::OperationStatus::Active, &[]),
            update(&p, "KE-KWS", T0 + 1, pb::OperationStatus::Planned, &[]),
            update(&p, "TZ-WD", T0 + 3, pb::OperationStatus::Cancelled, &[]),
        ],
    );
    assert_eq!(
        op.status(),
        Status::Active,
        "the forged cancel does not count"
    );
}

#[test]
fn the_lead_moves_forward_only_and_not_after_the_end() {
    use Status::*;
    let all = [Proposed, Planned, Active, Concluded, Cancelled];
    for from in all {
        for to in all {
            let allowed = !from.is_over() && to != Proposed && !(from == Active && to == Planned);
            assert_eq!(from.may_move(to).is_ok(), allowed, "{from:?} -> {to:?}");
        }
    }
    let e = Concluded.may_move(Active).expect_err("over");
    assert!(e.contains("concluded"), "{e}");
}

#[test]
fn overdue_answers_after_the_due_time_until_the_operation_ends() {
    let p = proposal(&["TZ-WD", "UG-UWA", "ZA-DFFE"]);
    let answered = response(&p, "TZ-WD", T0 + 1, pb::OperationAnswer::Decline);
    let op = Operation::assemble(p.clone(), vec![answered.clone()]);
    assert_eq!(op.respond_by(), T0 + 10 * DAY, "by the window's start");
    assert!(op.overdue(T0 + DAY).is_empty(), "not due yet");
    assert_eq!(op.overdue(T0 + 11 * DAY), vec!["UG-UWA", "ZA-DFFE"]);
    let over = update(&p, "KE-KWS", T0 + 2, pb::OperationStatus::Cancelled, &[]);
    let op = Operation::assemble(p, vec![answered, over]);
    assert!(
        op.overdue(T0 + 11 * DAY).is_empty(),
        "nothing is due once it is over"
    );
}

#[test]
fn seizures_and_outcome_come_from_the_leads_updates() {
    let p = proposal(&["TZ-WD"]);
    let s1 = "a".repeat(64);
    let s2 = "b".repeat(64);
    let with = |author: &str, at: i64, seizures: Vec<String>, outcome: &str| {
        sign(
            author,
            at,
            P::OperationUpdate(pb::OperationUpdate {
                operation: p.id().to_hex(),
                status: pb::OperationStatus::Concluded as i32,
                outcome: outcome.into(),
                seizures,
                ..Default::default()
            }),
        )
    };
    let op = Operation::assemble(
        p.clone(),
        vec![
            with("KE-KWS", T0 + 1, vec![s1.clone()], "two arrests"),
            with("KE-KWS", T0 + 2, vec![s1.clone(), s2.clone()], ""),
            with("TZ-WD", T0 + 3, vec!["c".repeat(64)], "forged"),
        ],
    );
    assert_eq!(op.seizures(), vec![s1, s2]);
    assert_eq!(op.outcome(), "two arrests");
}
