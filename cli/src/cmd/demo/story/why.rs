//! Why an agency does not hold a record, from the rules the nodes apply
//! (`policy::in_audience` and `policy::may_send` over the manifest in
//! force and the author's sharing policy), not from a second copy of them.

use anyhow::Context;
use prost::Message;
use wildnet_node::policy::{self, Deny, PeerPolicy};
use wildnet_node::secretariat::Secretariat;
use wildnet_proto::v1 as pb;

use super::Published;
use crate::cmd::demo::Demo;

/// The manifest and the sharing policies of every demo node.
pub(super) struct Rules {
    manifest: wildnet_node::membership::manifest::Trusted,
    policies: Vec<(String, wildnet_node::config::FederationSettings)>,
}

impl Rules {
    /// Reads the secretariat's manifest and each agency's node.toml.
    pub(super) fn load(demo: &Demo) -> anyhow::Result<Rules> {
        let s = Secretariat::open(&demo.fed.fed_dir).context("the demo's secretariat")?;
        let mut policies = Vec::new();
        for n in &demo.fed.nodes {
            let cfg = n.dir.join(wildnet_node::layout::CONFIG_FILE);
            let settings = wildnet_node::config::Settings::load(&cfg)?;
            if let Some(f) = settings.federation {
                policies.push((n.agency.clone(), f));
            }
        }
        Ok(Rules {
            manifest: s.manifest().clone(),
            policies,
        })
    }

    fn policy(&self, agency: &str, peer: &str) -> PeerPolicy {
        self.policies
            .iter()
            .find(|(a, _)| a == agency)
            .map(|(_, f)| f.share.get(peer).unwrap_or(&f.default_share).clone())
            .unwrap_or_default()
    }

    /// Why `agency` lacks `p` (whose signed body is `body`).
    pub(super) fn why_not(&self, p: &Published, body: &pb::RecordBody, agency: &str) -> String {
        let now = wildnet_node::now_ms();
        if !policy::in_audience(body, agency, &self.manifest, now) {
            return match pb::Scope::try_from(p.handling.scope).unwrap_or(pb::Scope::Unspecified) {
                pb::Scope::Local => format!("local: never leaves {}", p.author),
                pb::Scope::Agencies => {
                    format!("only {} may hold it", p.handling.agencies.join(", "))
                }
                pb::Scope::Groups => format!("not in group {}", p.handling.groups.join(", ")),
                _ => "not in its audience".to_string(),
            };
        }
        let rule = self.policy(p.author, agency);
        match policy::may_send(body, p.author, agency, &self.manifest, &rule, now, &[]) {
            Err(Deny::TlpAbovePolicy) => {
                let max = super::tlp_name(rule.max_tlp);
                let relay = if body
                    .handling
                    .as_ref()
                    .is_some_and(|h| h.code == pb::HandlingCode::H2 as i32)
                {
                    "; H2: no relay"
                } else {
                    ""
                };
                format!("{}'s policy: {max} at most{relay}", p.author)
            }
            Err(e) => e.to_string(),
            Ok(()) => "in its audience: not arrived yet".to_string(),
        }
    }
}

/// The signed body of `p`, from its author's node.
pub(super) async fn body_of(demo: &Demo, p: &Published) -> anyhow::Result<pb::RecordBody> {
    let r = demo
        .client(p.author)
        .get(pb::GetRequest { id: p.id.clone() })
        .await
        .map_err(crate::explain)?
        .into_inner();
    let signed = r
        .record
        .and_then(|r| r.signed)
        .context("the author's node returned no record")?;
    Ok(pb::RecordBody::decode(signed.body.as_slice())?)
}
