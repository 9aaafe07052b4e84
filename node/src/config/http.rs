//! `[http]`: the node's HTTP listener (metrics, health, the dashboard).
//! Off unless `listen` is set. The dashboard shows records, so on any
//! address but loopback the node refuses to start unless it serves HTTPS
//! (`tls_cert`, `tls_key`) and asks for a login (`users`: names and argon2
//! password hashes, checked by HTTP Basic authentication).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[http]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Where the HTTP listener binds, IP:PORT; absent: no listener.
    pub listen: Option<String>,
    /// The listener's certificate chain (PEM): HTTPS when set.
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// The dashboard users file (`wildnet admin http-user`): a login is
    /// asked when set.
    pub users: Option<PathBuf>,
}

/// `[http]`, validated, paths resolved.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Where the listener binds.
    pub listen: SocketAddr,
    /// HTTPS: the certificate chain and key files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The users file, when a login is asked.
    pub users: Option<PathBuf>,
}

impl HttpSection {
    /// The settings, or None when off; refuses a listener off loopback
    /// without HTTPS and a login.
    pub(super) fn settings(
        &self,
        resolve: &dyn Fn(&Path) -> PathBuf,
    ) -> Result<Option<HttpSettings>, String> {
        let Some(text) = self.listen.as_deref().filter(|l| !l.trim().is_empty()) else {
            return Ok(None);
        };
        let listen: SocketAddr = text.parse().map_err(|e| {
            format!("[http] listen = {text:?} is not IP:PORT ({e}), e.g. \"127.0.0.1:8480\"")
        })?;
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Some((resolve(c), resolve(k))),
            (None, None) => None,
            _ => {
                return Err(
                    "[http] tls_cert and tls_key go together: set both (HTTPS) or neither".into(),
                );
            }
        };
        let users = self.users.as_deref().map(resolve);
        if !listen.ip().is_loopback() && (tls.is_none() || users.is_none()) {
            return Err(format!(
                "[http] listen = {listen} is not a loopback address, and the dashboard shows \
                 records: set tls_cert and tls_key (HTTPS) and users (a login; add users with \
                 `wildnet admin http-user NAME`), or listen on 127.0.0.1"
            ));
        }
        Ok(Some(HttpSettings { listen, tls, users }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml_text: &str) -> Result<Option<HttpSettings>, String> {
        let s: HttpSection = toml::from_str(toml_text).expect("parses");
        s.settings(&|p: &Path| Path::new("/etc/wildnet").join(p))
    }

    #[test]
    fn off_unless_listen_is_set() {
        assert!(settings("").expect("valid").is_none());
        assert!(settings("listen = \"\"").expect("valid").is_none());
    }

    #[test]
    fn loopback_needs_no_login() {
        let s = settings("listen = \"127.0.0.1:8480\"")
            .expect("valid")
            .expect("on");
        assert!(s.tls.is_none() && s.users.is_none());
        assert!(settings("listen = \"[::1]:0\"").expect("valid").is_some());
    }

    #[test]
    fn any_other_address_needs_https_and_a_login() {
        for listen in ["0.0.0.0:8480", "192.0.2.7:8480", "[::]:8480"] {
            let e = settings(&format!("listen = \"{listen}\"")).expect_err("refused");
            assert!(
                e.contains("not a loopback address") && e.contains("tls_cert"),
                "{e}"
            );
            let e = settings(&format!(
                "listen = \"{listen}\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\""
            ))
            .expect_err("refused without users");
            assert!(e.contains("users"), "{e}");
            let e = settings(&format!("listen = \"{listen}\"\nusers = \"u.toml\""))
                .expect_err("refused without TLS");
            assert!(e.contains("tls_cert"), "{e}");
        }
        let s = settings(
            "listen = \"0.0.0.0:8480\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\nusers = \"u.toml\"",
        )
        .expect("valid")
        .expect("on");
        assert_eq!(s.users, Some(PathBuf::from("/etc/wildnet/u.toml")));
        assert_eq!(
            s.tls,
            Some((
                PathBuf::from("/etc/wildnet/c.pem"),
                PathBuf::from("/etc/wildnet/k.pem")
            ))
        );
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        let e = settings("listen = \"127.0.0.1:0\"\ntls_cert = \"c.pem\"").expect_err("refused");
        assert!(e.contains("go together"), "{e}");
        let e = settings("listen = \"localhost:8480\"").expect_err("refused");
        assert!(e.contains("IP:PORT"), "{e}");
    }
}
