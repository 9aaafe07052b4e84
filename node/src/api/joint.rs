//! The Agency service's joint-work calls (correlation, alerts,
//! deconfliction, operation boards): conversions between the requests and
//! the node's domain operations, for [`super::agency`].

use std::sync::Arc;

use wildnet_proto::v1 as pb;

use super::agency::stored_pbs;
use crate::node::{Links, Node, NodeError};

fn links_pb(l: &Links) -> pb::SelectorLinks {
    pb::SelectorLinks {
        selector: l.key.clone(),
        holders: u32::try_from(l.holders).unwrap_or(u32::MAX),
        more: l.more,
        suppressed: l
            .suppressed
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        records: stored_pbs(&l.records),
    }
}

/// `Correlate`: one record's selectors, one value, or the top values.
pub(super) fn correlate(
    node: &Node,
    req: &pb::CorrelateRequest,
) -> Result<pb::CorrelateResponse, NodeError> {
    let mut out = pb::CorrelateResponse {
        correlation_limit: u32::try_from(node.correlation().limit).unwrap_or(u32::MAX),
        reindex: node
            .store()
            .selector_reindex()?
            .map(|(done, all)| format!("{done}/{all}"))
            .unwrap_or_default(),
        ..Default::default()
    };
    let asked = [
        !req.id.trim().is_empty(),
        !req.selector.trim().is_empty(),
        req.top,
    ];
    if asked.iter().filter(|a| **a).count() != 1 {
        return Err(NodeError::Invalid(
            "correlate needs exactly one of: a record id, a selector (kind:value), or top".into(),
        ));
    }
    if req.top {
        let n = if req.limit == 0 {
            20
        } else {
            req.limit as usize
        };
        out.top = node
            .top_values(n.min(10_000))?
            .into_iter()
            .map(|t| pb::SelectorCount {
                selector: t.key,
                entries: t.entries,
                suppressed: t.suppressed.map(|s| s.to_string()).unwrap_or_default(),
            })
            .collect();
    } else if !req.id.trim().is_empty() {
        let (s, links) = node.correlate_record(req.id.trim(), req.all)?;
        out.id = s.record.id().to_hex();
        out.selectors = links.iter().map(links_pb).collect();
    } else {
        let l = node.correlate_value(req.selector.trim(), req.all)?;
        out.selectors = vec![links_pb(&l)];
    }
    Ok(out)
}

type AlertSender = tokio::sync::mpsc::Sender<Result<pb::Alert, tonic::Status>>;

/// Sends the stored alerts after `last`; returns the last id sent, or
/// `None` once the caller is gone or the store failed (it was told).
async fn send_stored(node: &Node, tx: &AlertSender, mut last: u64, unacked: bool) -> Option<u64> {
    loop {
        let stored = match node.list_alerts(last, unacked, 1000) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Err(super::status::status(e))).await;
                return None;
            }
        };
        let full = stored.len() == 1000;
        for a in stored {
            last = last.max(a.id);
            tx.send(Ok(a)).await.ok()?;
        }
        if !full {
            return Some(last);
        }
    }
}

/// `SubscribeAlerts`: the stored alerts after `after`, then new ones as
/// they are raised, until the caller goes away or the node stops.
pub(super) fn subscribe_alerts(
    node: std::sync::Arc<Node>,
    req: pb::SubscribeAlertsRequest,
) -> tokio_stream::wrappers::ReceiverStream<Result<pb::Alert, tonic::Status>> {
    use tokio::sync::broadcast::error::RecvError;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        // Subscribed before reading the stored ones: nothing falls between.
        let mut live = node.alert_events();
        let mut closing = node.closing();
        let Some(mut last) = send_stored(&node, &tx, req.after, req.unacked).await else {
            return;
        };
        loop {
            let next = tokio::select! {
                n = live.recv() => n,
                () = tx.closed() => return,
                _ = closing.wait_for(|c| *c) => return,
            };
            last = match next {
                Ok(a) if a.id > last => {
                    let id = a.id;
                    if tx.send(Ok(a)).await.is_err() {
                        return;
                    }
                    id
                }
                Ok(_) => last,
                // Fell behind: the store has what was missed.
                Err(RecvError::Lagged(_)) => match send_stored(&node, &tx, last, req.unacked).await
                {
                    Some(l) => l,
                    None => return,
                },
                Err(RecvError::Closed) => return,
            };
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// The selector of a watch request, required.
pub(super) fn watch_selector(req: &pb::WatchRequest) -> Result<&str, NodeError> {
    let s = req.selector.trim();
    if s.is_empty() {
        return Err(NodeError::Invalid(
            "a watch needs a selector, kind:value (e.g. phone:+254712345678)".into(),
        ));
    }
    Ok(s)
}

/// `Deconflict`: asks peers (selectors given), or lists the answers kept
/// from earlier hits (none given).
pub(super) async fn deconflict(
    node: &Arc<Node>,
    r: &pb::DeconflictRequest,
    who: &str,
) -> Result<Vec<pb::DeconflictAnswer>, NodeError> {
    if r.selectors.is_empty() {
        Ok(node.store().followups()?)
    } else {
        crate::sync::deconflict::deconflict(node, r, who).await
    }
}

/// `GetOperation`: the board; with `deconflict`, the targets are asked
/// about first (every peer, hit/no-hit), so the board shows who else holds
/// them now. Audited.
pub(super) async fn operation_board(
    node: &Arc<Node>,
    r: &pb::OperationBoardRequest,
    who: &str,
) -> Result<pb::OperationBoard, NodeError> {
    let mut board = node.board(&r.id)?;
    if r.deconflict {
        let keys = node.target_keys(&board.id)?;
        if !keys.is_empty() && node.federation().is_some() {
            let ask = pb::DeconflictRequest {
                selectors: keys,
                peers: Vec::new(),
                deadline_secs: r.deadline_secs,
            };
            let answers = crate::sync::deconflict::deconflict(node, &ask, who).await?;
            // Again, with the hits just kept.
            board = node.board(&board.id)?;
            board.deconfliction = answers;
        }
    }
    node.audit_nowait(who, "op-show", format!("{} {}", board.code_name, board.id));
    Ok(board)
}
