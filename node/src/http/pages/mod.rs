//! The dashboard's pages: server-rendered HTML (maud escapes every value),
//! one file per page group, a shared shell and the helpers that show a
//! record's handling, kind and summary the way the CLI does.

use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use wildnet_proto::v1 as pb;

use super::Web;
use super::access::User;
use crate::node::NodeError;

mod audit;
mod home;
mod joint;
mod record;
mod search;

/// Every page of the dashboard.
pub(super) fn routes() -> Router<Arc<Web>> {
    use axum::routing::get;
    Router::new()
        .route("/", get(home::page))
        .route("/records", get(search::page))
        .route("/records/{id}", get(record::page))
        .route("/alerts", get(joint::alerts))
        .route("/operations", get(joint::operations))
        .route("/operations/{id}", get(joint::board))
        .route("/audit", get(audit::page))
        .fallback(not_found)
}

async fn not_found(
    axum::extract::State(web): axum::extract::State<Arc<Web>>,
    uri: axum::http::Uri,
) -> Response {
    let mut r = shell(
        &web,
        "Not found",
        html! {
            p.bad { "There is no page " code { (uri.path()) } " here." }
        },
    );
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// The caller of a page, for the audit: its user and address.
pub(super) struct Viewer {
    actor: String,
    /// A HEAD request: its page is made but not shown.
    head: bool,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Viewer {
    type Rejection = StatusCode;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Viewer, StatusCode> {
        let user = parts
            .extensions
            .get::<User>()
            .cloned()
            .ok_or(StatusCode::UNAUTHORIZED)?;
        let addr = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0);
        Ok(Viewer {
            actor: user.actor(addr),
            head: parts.method == axum::http::Method::HEAD,
        })
    }
}

impl Viewer {
    /// Audits a page view that shows records: who saw what (a HEAD
    /// request sees nothing).
    pub(super) fn audit(&self, web: &Web, what: String) {
        if !self.head {
            web.node.audit_nowait(&self.actor, "web-view", what);
        }
    }
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#1d3b2a;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:baseline;flex-wrap:wrap}
header a{color:#fff;text-decoration:none}header strong{font-size:1.1em}
main{padding:1em 1.5em;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef2ee}
.badge{display:inline-block;padding:0 .45em;border-radius:.3em;font-size:.85em;font-weight:600;margin-right:.3em;border:1px solid #999}
.tlp-RED{background:#ff2b2b;color:#000}.tlp-AMBER,.tlp-AMBER_STRICT{background:#ffc000;color:#000}
.tlp-GREEN{background:#33ff00;color:#000}.tlp-CLEAR{background:#fff;color:#000}
.ok{color:#05702d;font-weight:600}.bad{color:#b00020;font-weight:600}
.empty{color:#666;font-style:italic}
form.search{display:grid;grid-template-columns:repeat(4,minmax(10em,1fr));gap:.4em .8em;max-width:60em}
form.search label{display:flex;flex-direction:column;font-size:.85em}
figure{display:inline-block;margin:.5em 1.5em .5em 0;vertical-align:top}figcaption{font-weight:600}
.key{display:inline-block;width:.8em;height:.8em}
pre{background:#f0f0f0;padding:.6em;overflow:auto;max-width:100%;font-size:.85em}
code{font-size:.9em}
";

/// The shell of every page: the agency, the navigation, the content.
pub(super) fn shell(web: &Web, title: &str, content: Markup) -> Response {
    let node = &web.node;
    let manifest = node.federation().map(|f| f.current().version());
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — wildnet " (node.agency()) }
                style { (STYLE) }
            }
            body {
                header {
                    strong { "wildnet " (node.agency()) }
                    span { (node.name()) }
                    @if let Some(v) = manifest { span { "manifest v" (v) } }
                    nav {
                        a href="/" { "Overview" } " · "
                        a href="/records" { "Records" } " · "
                        a href="/alerts" { "Alerts" } " · "
                        a href="/operations" { "Operations" } " · "
                        a href="/audit" { "Audit log" } " · "
                        a href="/metrics" { "Metrics" }
                    }
                }
                main { h1 { (title) } (content) }
            }
        }
    };
    Html(page.into_string()).into_response()
}

/// Runs `read` on the blocking pool (sled reads and CPU work stay off the
/// runtime): its value, or the error page to answer with.
pub(super) async fn off_runtime<T: Send + 'static>(
    web: &Arc<Web>,
    read: impl FnOnce(&Web) -> Result<T, NodeError> + Send + 'static,
) -> Result<T, Response> {
    let w = web.clone();
    match tokio::task::spawn_blocking(move || read(&w)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error(web, e)),
        Err(e) => Err(error(web, NodeError::Internal(e.to_string()))),
    }
}

/// A page for an error: not found, bad input, or a failure.
pub(super) fn error(web: &Web, e: NodeError) -> Response {
    // The status the Agency API would answer, as HTTP.
    let status = crate::api::status::status(e);
    let code = match status.code() {
        tonic::Code::InvalidArgument | tonic::Code::OutOfRange => StatusCode::BAD_REQUEST,
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        tonic::Code::PermissionDenied | tonic::Code::FailedPrecondition => StatusCode::FORBIDDEN,
        tonic::Code::Unavailable | tonic::Code::ResourceExhausted => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut r = shell(web, "Not shown", html! { p.bad { (status.message()) } });
    *r.status_mut() = code;
    r
}

/// `2026-12-06 21:40 UTC` for unix ms (empty for 0).
pub(super) fn when(ms: i64) -> String {
    if ms == 0 {
        return String::new();
    }
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The handling of a record as badges: TLP, scope, code, evaluation.
pub(super) fn badges(h: Option<&pb::Handling>) -> Markup {
    let Some(h) = h else {
        return html! {};
    };
    let tlp = pb::Tlp::try_from(h.tlp)
        .map(|t| t.as_str_name().trim_start_matches("TLP_").to_string())
        .unwrap_or_default();
    let scope = pb::Scope::try_from(h.scope)
        .map(|s| s.as_str_name().trim_start_matches("SCOPE_").to_lowercase())
        .unwrap_or_default();
    let audience = match scope.as_str() {
        "agencies" => format!("agencies: {}", h.agencies.join(", ")),
        "groups" => format!("groups: {}", h.groups.join(", ")),
        other => other.to_string(),
    };
    let code = pb::HandlingCode::try_from(h.code)
        .map(|c| {
            c.as_str_name()
                .trim_start_matches("HANDLING_CODE_")
                .to_string()
        })
        .unwrap_or_default();
    let eval = format!(
        "{}{}",
        pb::SourceEvaluation::try_from(h.source)
            .map(|s| s
                .as_str_name()
                .trim_start_matches("SOURCE_EVALUATION_")
                .to_string())
            .unwrap_or_default()
            .replace("UNSPECIFIED", ""),
        pb::InformationEvaluation::try_from(h.information)
            .map(|s| s
                .as_str_name()
                .trim_start_matches("INFORMATION_EVALUATION_")
                .to_string())
            .unwrap_or_default()
            .replace("UNSPECIFIED", "")
    );
    html! {
        span class=(format!("badge tlp-{tlp}")) title="Traffic Light Protocol" { "TLP:" (tlp.replace("_STRICT", "+STRICT")) }
        span.badge title="Who may hold it" { (audience) }
        span.badge title="Handling code" { (code) }
        @if !eval.is_empty() { span.badge title="Evaluation of source and information" { (eval) } }
        @if !h.restrictions.is_empty() { span.badge title="Restrictions" { (h.restrictions) } }
    }
}

/// What a record is about, in a line (as `wildnet query` shows it).
pub(super) fn summary(b: &pb::RecordBody) -> String {
    use pb::record_body::Payload as P;
    let text = match &b.payload {
        Some(P::Listing(l)) => {
            let species = l
                .species
                .as_ref()
                .map(|s| s.scientific_name.as_str())
                .unwrap_or("");
            let seller = if l.seller_handle.is_empty() {
                String::new()
            } else {
                format!(" — {}", l.seller_handle)
            };
            format!("{}{seller} ({species}, {})", l.title, l.country)
        }
        Some(P::Entity(e)) => e.names.join(", "),
        Some(P::Seizure(s)) => format!("{} {}", s.place, s.description),
        Some(P::Note(n)) if n.title.is_empty() => n.text.clone(),
        Some(P::Note(n)) => n.title.clone(),
        Some(P::Retraction(r)) => format!(
            "retracts {} ({})",
            r.target.get(..12).unwrap_or(""),
            r.reason
        ),
        Some(P::OperationProposal(o)) => o.code_name.clone(),
        Some(P::OperationResponse(o)) => {
            format!("answer to {}", o.operation.get(..12).unwrap_or(""))
        }
        Some(P::OperationUpdate(o)) => format!("update of {}", o.operation.get(..12).unwrap_or("")),
        None => String::new(),
    };
    text.chars().take(90).collect()
}

/// A link to a record page, by its id's first 12 characters.
pub(super) fn record_link(id: &str) -> Markup {
    html! { a href=(format!("/records/{id}")) { code { (id.get(..12).unwrap_or(id)) } } }
}
