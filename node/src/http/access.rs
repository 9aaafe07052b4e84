//! Who is asking. With `[http] users`, every request needs an HTTP Basic
//! login checked against the argon2 hashes (the settings make it HTTPS
//! off loopback); without, the listener is on loopback and the user is
//! `local`. The user rides on the request for the audit of page views.

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

/// Lets the request through with its [`User`], or answers 401.
pub(super) async fn login(State(web): State<Arc<Web>>, mut req: Request, next: Next) -> Response {
    let user = match &web.users {
        None => Some("local".to_string()),
        Some(_) => {
            let creds = basic_credentials(&req);
            match creds {
                Some((name, password)) => {
                    let w = web.clone();
                    let n = name.clone();
                    let ok = tokio::task::spawn_blocking(move || {
                        w.users.as_ref().is_some_and(|u| u.check(&n, &password))
                    })
                    .await
                    .unwrap_or(false);
                    if !ok {
                        let addr = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>();
                        tracing::warn!(user = %name, peer_addr = ?addr.map(|a| a.0), "dashboard login refused");
                    }
                    ok.then_some(name)
                }
                None => None,
            }
        }
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
