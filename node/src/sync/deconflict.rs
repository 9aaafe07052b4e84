//! Deconfliction, the asking side: every peer asked in parallel, each
//! within a deadline (a slow peer shows `UNREACHABLE`, never holds up the
//! answer). Per peer: bring the copy of its filter up to date, blind the
//! selectors, have the peer evaluate them, unblind and test the copy
//! (`HIT` / `NO_HIT`), then a follow-up for the hits. Answers are kept;
//! a hit whose follow-up fails stays open until a later question answers
//! it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tonic::Code;
use wildnet_proto::v1 as pb;
use wildnet_proto::v1::federation_client::FederationClient;

use crate::deconfliction::{self, Token};
use crate::node::{Node, NodeError};

type Client = FederationClient<tonic::transport::Channel>;

fn answer(key: &str, peer: &str, outcome: &str, detail: impl Into<String>) -> pb::DeconflictAnswer {
    pb::DeconflictAnswer {
        selector: key.into(),
        peer: peer.into(),
        outcome: outcome.into(),
        detail: detail.into(),
        ..Default::default()
    }
}

/// Asks `req.peers` (every dialled peer when empty) about `req.selectors`.
pub async fn deconflict(
    node: &Arc<Node>,
    req: &pb::DeconflictRequest,
    who: &str,
) -> Result<Vec<pb::DeconflictAnswer>, NodeError> {
    let fed = node.federation().ok_or(NodeError::NotFederated)?;
    let keys = question(node, &req.selectors)?;
    let peers = asked(fed, &req.peers)?;
    let deadline = match req.deadline_secs {
        0 => node.deconfliction().settings().deadline,
        s => Duration::from_secs(u64::from(s)),
    };
    node.audit_nowait(
        who,
        "deconflict-ask",
        format!(
            "{} selectors to {} peers: {}",
            keys.len(),
            peers.len(),
            keys.join(" ")
        ),
    );
    let asks = peers.into_iter().map(|(peer, addr)| {
        let (node, keys) = (node.clone(), keys.clone());
        async move {
            match tokio::time::timeout(deadline, ask(&node, &peer, &addr, &keys)).await {
                Ok(a) => a,
                Err(_) => keys
                    .iter()
                    .map(|k| {
                        answer(
                            k,
                            &peer,
                            "UNREACHABLE",
                            format!("timeout: no answer within {} s", deadline.as_secs()),
                        )
                    })
                    .collect(),
            }
        }
    });
    let mut out: Vec<pb::DeconflictAnswer> = futures::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect();
    for a in &out {
        if a.outcome == "HIT" {
            node.store().put_followup(a).await?;
        }
    }
    out.sort_by(|a, b| (&a.selector, &a.peer).cmp(&(&b.selector, &b.peer)));
    Ok(out)
}

/// The correlation keys of a question (1 to [`crate::node::MAX_QUESTION`]
/// selectors, national phone formats read in this node's country).
fn question(node: &Node, selectors: &[String]) -> Result<Vec<String>, NodeError> {
    if selectors.is_empty() || selectors.len() > crate::node::MAX_QUESTION {
        return Err(NodeError::Invalid(format!(
            "deconflict takes 1-{} selectors (kind:value)",
            crate::node::MAX_QUESTION
        )));
    }
    let mut keys = Vec::new();
    for s in selectors {
        keys.push(node.key_of(s)?);
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The peers asked and their addresses: those named, or every dialled
/// peer.
fn asked(
    fed: &crate::federation::Federation,
    named: &[String],
) -> Result<Vec<(String, String)>, NodeError> {
    let wanted = fed.wanted_peers();
    if named.is_empty() {
        return Ok(wanted);
    }
    named
        .iter()
        .map(|p| {
            let p = p.trim().to_uppercase();
            wanted
                .iter()
                .find(|(a, _)| *a == p)
                .cloned()
                .ok_or_else(|| {
                    NodeError::Unknown(format!(
                        "{p} is not a peer of this node: see `wildnet peers`"
                    ))
                })
        })
        .collect()
}

/// One peer's answers.
async fn ask(
    node: &Arc<Node>,
    peer: &str,
    addr: &str,
    keys: &[String],
) -> Vec<pb::DeconflictAnswer> {
    let all = |outcome: &str, detail: String| {
        keys.iter()
            .map(|k| answer(k, peer, outcome, detail.clone()))
            .collect()
    };
    let Some(fed) = node.federation() else {
        return all("ERROR", "not federated".into());
    };
    let mut client = match super::dial::dial(fed, peer, addr).await {
        Ok(c) => c,
        Err(e) => return all("UNREACHABLE", e),
    };
    match step_one(node, &mut client, peer, keys).await {
        Ok((epoch, hits)) => follow_up(node, &mut client, peer, epoch, keys, hits).await,
        Err(s) if s.code() == Code::ResourceExhausted => {
            all("RATE_LIMITED", s.message().to_string())
        }
        Err(s) if s.code() == Code::Unavailable => all("UNREACHABLE", s.message().to_string()),
        Err(s) => all("ERROR", format!("{}: {}", s.code(), s.message())),
    }
}

/// Step 1: the tokens of `keys` through the peer's evaluation, tested
/// against the (refreshed) copy of its filter. Returns the epoch and,
/// per key, its token when it hit.
async fn step_one(
    node: &Arc<Node>,
    client: &mut Client,
    peer: &str,
    keys: &[String],
) -> Result<(u64, Vec<Option<Token>>), tonic::Status> {
    let mut rng = rand_core::OsRng;
    let blinded = keys
        .iter()
        .map(|k| deconfliction::blind(k, &mut rng))
        .collect::<Result<Vec<_>, _>>()
        .map_err(tonic::Status::internal)?;
    let req = pb::EvaluateRequest {
        blinded: blinded.iter().map(|b| b.message.clone()).collect(),
    };
    node.store()
        .telemetry()
        .deconfliction
        .get_or_create(&vec![
            ("direction", "asked".into()),
            ("peer", peer.to_string()),
        ])
        .inc_by(keys.len() as u64);
    let r = client.deconflict_evaluate(req).await?.into_inner();
    if r.evaluated.len() != keys.len() {
        return Err(tonic::Status::internal(
            "the peer evaluated a different number of selectors",
        ));
    }
    let (epoch, copy) = refresh(node, client, peer, r.epoch).await?;
    let hits = blinded
        .iter()
        .zip(&r.evaluated)
        .map(|(b, e)| b.finalize(e).map(|t| copy.contains(&t).then_some(t)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(tonic::Status::internal)?;
    Ok((epoch, hits))
}

/// The copy of `peer`'s filter, brought up to date (from the start when
/// the epoch changed: a rebuild or a new key).
async fn refresh(
    node: &Arc<Node>,
    client: &mut Client,
    peer: &str,
    want_epoch: u64,
) -> Result<(u64, HashSet<Token>), tonic::Status> {
    let mut copies = node.deconfliction().copies.lock().await;
    let (mut epoch, mut set) = copies.remove(peer).unwrap_or_default();
    if epoch != want_epoch {
        set.clear();
    }
    let mut stream = client
        .deconflict_filter(pb::FilterRequest {
            epoch,
            since: set.len() as u64,
        })
        .await?
        .into_inner();
    while let Some(chunk) = stream.message().await? {
        if chunk.epoch != epoch {
            epoch = chunk.epoch;
            set.clear();
        }
        for t in chunk.tokens.chunks_exact(16) {
            let mut tok = [0u8; 16];
            tok.copy_from_slice(t);
            set.insert(tok);
        }
    }
    copies.insert(peer.to_string(), (epoch, set.clone()));
    Ok((epoch, set))
}

/// Step 2 for the hits; the others are `NO_HIT`.
async fn follow_up(
    node: &Arc<Node>,
    client: &mut Client,
    peer: &str,
    epoch: u64,
    keys: &[String],
    hits: Vec<Option<Token>>,
) -> Vec<pb::DeconflictAnswer> {
    let tokens: Vec<Vec<u8>> = hits.iter().flatten().map(|t| t.to_vec()).collect();
    let answered = if tokens.is_empty() {
        Ok(Vec::new())
    } else {
        client
            .deconflict_follow_up(pb::FollowUpRequest { tokens, epoch })
            .await
            .map(|r| r.into_inner().hits)
    };
    keys.iter()
        .zip(hits)
        .map(|(k, hit)| {
            let Some(t) = hit else {
                return answer(k, peer, "NO_HIT", "");
            };
            let mut a = answer(k, peer, "HIT", "");
            match &answered {
                Ok(list) => match list.iter().find(|h| h.token == t) {
                    Some(h) => {
                        a.contact = h.contact.clone();
                        a.reference = h.reference.clone();
                        a.records = h.records.clone();
                        node.audit_nowait(
                            &format!("peer:{peer}"),
                            "deconflict-hit",
                            format!(
                                "{k}: {} {} ({} records shown)",
                                h.reference,
                                h.contact,
                                h.records.len()
                            ),
                        );
                    }
                    None => {
                        a.outcome = "NO_HIT".into();
                        a.detail = "the follow-up found no match (a stale filter copy)".into();
                    }
                },
                Err(s) => {
                    a.follow_up_open = true;
                    a.detail = format!("follow-up open: {}", s.message());
                }
            }
            a
        })
        .collect()
}
