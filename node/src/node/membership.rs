//! The manifest in force: adopting a newer one (from a peer or an
//! operator), and checking that a signer may sign for an agency.

use wildnet_proto::v1 as pb;

use super::Node;
use crate::record;

impl Node {
    /// Verifies a manifest against the CA and adopts it when newer:
    /// persisted first, then in force, then gossiped by the peer links.
    pub async fn adopt_manifest(&self, m: pb::Manifest, source: &str) -> pb::OfferManifestResponse {
        use crate::membership::manifest::Trusted;
        let Some(fed) = &self.federation else {
            return pb::OfferManifestResponse {
                adopted: false,
                version: 0,
                reason: "this node has not joined a federation (wildnet federation join)".into(),
            };
        };
        let current = fed.current();
        let verdict = Trusted::verify(m, fed.ca())
            .and_then(|t| Trusted::check_newer(Some(&current), &t).map(|n| (t, n)));
        let not_adopted = |reason: String| pb::OfferManifestResponse {
            adopted: false,
            version: current.version(),
            reason,
        };
        let (t, newer) = match verdict {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(source, cause = %e, "manifest refused");
                self.audit_nowait(source, "manifest-refused", e.to_string());
                return not_adopted(e.to_string());
            }
        };
        if !newer {
            return not_adopted(format!("version {} is already in force", current.version()));
        }
        let version = t.version();
        let adopted = crate::storage::PeerWrite::Manifest(t.manifest().clone());
        if let Err(e) = self.store.write_peer_state(vec![adopted]).await {
            tracing::error!(cause = %e, "cannot persist the manifest");
            return not_adopted(format!("cannot persist the manifest: {e}"));
        }
        let me = self.agency.as_str();
        let before = crate::policy::groups_of(me, &current);
        let joined: Vec<String> = crate::policy::groups_of(me, &t)
            .into_iter()
            .filter(|g| !before.contains(g))
            .collect();
        fed.put_in_force(t);
        self.re_pull_for(version, &joined).await;
        tracing::info!(source, version, "manifest adopted");
        self.audit_nowait(source, "manifest-adopted", format!("version {version}"));
        pb::OfferManifestResponse {
            adopted: true,
            version,
            reason: String::new(),
        }
    }

    /// Checks that `key` may sign for `author` at `at`: against the manifest
    /// in force in a federation, else only this node's own key.
    pub fn check_signer(
        &self,
        author: &str,
        key: &ed25519_dalek::VerifyingKey,
        at: i64,
    ) -> Result<(), record::RecordError> {
        use crate::record::KeyBinding;
        match &self.federation {
            Some(f) => f.current().check(author, key, at),
            None => self.trust.check(author, key, at),
        }
    }

    /// The version of the manifest in force (0 outside a federation).
    pub fn manifest_version(&self) -> u64 {
        self.federation
            .as_ref()
            .map_or(0, |f| f.current().version())
    }

    /// Joining a group widens what this node may hold: records of that
    /// group are behind the cursors, so every peer is pulled again.
    async fn re_pull_for(&self, version: u64, joined: &[String]) {
        if joined.is_empty() {
            return;
        }
        let why = format!(
            "manifest version {version} adds this agency to group(s) {}",
            joined.join(", ")
        );
        if let Err(e) = self.reset_cursors(&why).await {
            tracing::error!(cause = %e, "cannot reset the cursors");
        }
    }
}
