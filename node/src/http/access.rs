//! Who is asking. With `[http] users`, every request needs an HTTP Basic
//! login checked against the argon2 hashes (the settings make it HTTPS
//! off loopback), at most [`CHECKS`] at once; without, the listener is on
//! loopback, the user is `local`, and a request must name a loopback host
//! (a web page whose name was rebound to 127.0.0.1 names its own). The
//! user rides on the request for the audit of page views.

use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::Web;

/// The user of a request: a name from the users file, or `local`.
#[derive(Debug, Clone)]
pub(super) struct User(pub(super) String);

impl User {
    /// The audit actor: `web:<user>@<address>`.
    pub(super) fn actor(&self, req_addr: Option<std::net::SocketAddr>) -> String {
        match req_addr {
            Some(a) => format!("web:{}@{a}", self.0),
            None => format!("web:{}", self.0),
        }
    }
}

/// Password checks (argon2, ~19 MiB and tens of ms each) run at once at
/// most; more logins at that moment are told to retry.
pub(super) const CHECKS: usize = 2;

/// Lets the request through with its [`User`], or answers 401 (no or a
/// wrong login), 421 (a non-loopback host without login) or 503 (too
/// many logins being checked).
pub(super) async fn login(State(web): State<Arc<Web>>, mut req: Request, next: Next) -> Response {
    let user = match &web.users {
        None if !loopback_host(&req) => {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                "this listener answers only requests for 127.0.0.1, [::1] or localhost \
                 (set [http] users for a login to serve other names)\n",
            )
                .into_response();
        }
        None => Some("local".to_string()),
        Some(_) => match basic_credentials(&req) {
            Some((name, password)) => {
                let Ok(permit) = web.logins.clone().try_acquire_owned() else {
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [(header::RETRY_AFTER, "1")],
                        "too many logins are being checked at once: retry in a moment\n",
                    )
                        .into_response();
                };
                let w = web.clone();
                let n = name.clone();
                let ok = tokio::task::spawn_blocking(move || {
                    let ok = w.users.as_ref().is_some_and(|u| u.check(&n, &password));
                    drop(permit);
                    ok
                })
                .await
                .unwrap_or(false);
                if !ok {
                    let addr = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>();
                    tracing::warn!(user = ?name, peer_addr = ?addr.map(|a| a.0), "dashboard login refused");
                }
                ok.then_some(name)
            }
            None => None,
        },
    };
    match user {
        Some(u) => {
            req.extensions_mut().insert(User(u));
            next.run(req).await
        }
        None => {
            let realm = format!(
                "Basic realm=\"wildnet {}\", charset=\"UTF-8\"",
                web.node.agency()
            );
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, realm)],
                "log in with a user of [http] users (wildnet admin http-user NAME)\n",
            )
                .into_response()
        }
    }
}

/// True when the request's `Host` is a loopback address or `localhost`
/// (with any port); HTTP/1.1 requests always name one.
fn loopback_host(req: &Request) -> bool {
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
        return false;
    };
    let name = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `(name, password)` of an `Authorization: Basic …` header.
fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_string(), password.to_string()))
}
