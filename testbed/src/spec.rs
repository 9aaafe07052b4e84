//! What a throw-away federation is made of.

/// Who dials whom. A node dials each agency its `peers` lists (and, with
/// no list, every other agency of the manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Links {
    /// Every node dials every other (no `peers` list).
    Mesh,
    /// Each node dials its neighbours in the order given.
    Line,
    /// The node at this index dials every other; the others dial only it.
    Star(usize),
    /// Exactly these pairs: each side dials the other. An agency in no
    /// pair dials nobody.
    Pairs(Vec<(String, String)>),
}

impl Links {
    /// The `peers` list of agency `i` of `ids`; `None`: every other agency.
    pub fn peers_of(&self, ids: &[String], i: usize) -> Option<Vec<String>> {
        match self {
            Links::Mesh => None,
            Links::Line => Some(
                [i.checked_sub(1), Some(i + 1)]
                    .into_iter()
                    .flatten()
                    .filter_map(|j| ids.get(j).cloned())
                    .collect(),
            ),
            Links::Star(hub) if i == *hub => None,
            Links::Star(hub) => Some(ids.get(*hub).cloned().into_iter().collect()),
            Links::Pairs(pairs) => Some(
                pairs
                    .iter()
                    .filter_map(|(a, b)| match (*a == ids[i], *b == ids[i]) {
                        (true, _) => Some(b.clone()),
                        (_, true) => Some(a.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }
}

/// How each node's Federation address is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses {
    /// Listeners bound on 127.0.0.1:0 in this process and handed to
    /// in-process nodes ([`crate::build::Agency::listener`]).
    Bound,
    /// Each node is run once as a child process on port 0, its address
    /// read back, and the manifest re-issued with the real addresses.
    Learnt,
    /// 127.0.0.1 from this port up, in agency order (documented demo
    /// ports; nothing is bound while building).
    Fixed(u16),
}

/// A federation to build.
#[derive(Debug, Clone)]
pub struct FedSpec {
    /// The federation's name in its CA certificate.
    pub name: String,
    /// Agency ids (`CC-NAME`, the country is the first two letters).
    pub agencies: Vec<String>,
    /// Manifest groups and their members.
    pub groups: Vec<(String, Vec<String>)>,
    /// Who dials whom.
    pub links: Links,
    /// How addresses are found.
    pub addresses: Addresses,
    /// `hello_interval_secs` for every node (`None`: the default, 30).
    pub hello_interval_secs: Option<u64>,
    /// Validity of the issued certificates, days.
    pub cert_days: u32,
    /// Added to each agency's name: "KE-KWS (<label>)".
    pub label: String,
    /// The secretariat's dir, under the root.
    pub secretariat_dir: String,
    /// Per-peer sharing policies: (agency, peer, max_tlp) written to the
    /// agency's `[federation.share.<peer>]`.
    pub shares: Vec<(String, String, String)>,
    /// The HTTP listeners (`[http] listen`): off (None), on a port the OS
    /// picks (0: read it back with `Node::http_addr`), or on `base + i`.
    pub http: Option<u16>,
}

impl FedSpec {
    /// A mesh of `agencies` on bound loopback listeners, with quick
    /// re-checks (1 s) for tests.
    pub fn new<S: AsRef<str>>(agencies: &[S]) -> FedSpec {
        FedSpec {
            name: "test federation".into(),
            agencies: agencies.iter().map(|a| a.as_ref().to_string()).collect(),
            groups: Vec::new(),
            links: Links::Mesh,
            addresses: Addresses::Bound,
            hello_interval_secs: Some(1),
            cert_days: 30,
            label: "test".into(),
            secretariat_dir: "fed".into(),
            shares: Vec::new(),
            http: None,
        }
    }

    /// `agency` sends `peer` nothing above `max_tlp` (`[federation.share]`).
    pub fn share_max_tlp(mut self, agency: &str, peer: &str, max_tlp: &str) -> FedSpec {
        self.shares
            .push((agency.to_string(), peer.to_string(), max_tlp.to_string()));
        self
    }

    /// With these groups.
    pub fn groups(mut self, groups: &[(&str, &[&str])]) -> FedSpec {
        self.groups = groups
            .iter()
            .map(|(g, m)| (g.to_string(), m.iter().map(|s| s.to_string()).collect()))
            .collect();
        self
    }

    /// With these links.
    pub fn links(mut self, links: Links) -> FedSpec {
        self.links = links;
        self
    }

    /// With only these pairs linked.
    pub fn pairs(self, pairs: &[(&str, &str)]) -> FedSpec {
        self.links(Links::Pairs(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        ))
    }

    /// Finding addresses this way.
    pub fn addresses(mut self, a: Addresses) -> FedSpec {
        self.addresses = a;
        self
    }

    /// `hello_interval_secs` (`None`: leave the default).
    pub fn hello_interval(mut self, secs: Option<u64>) -> FedSpec {
        self.hello_interval_secs = secs;
        self
    }

    /// Every node with an HTTP listener: on a port the OS picks (`0`), or
    /// agency `i` on `base + i`.
    pub fn http(mut self, base: u16) -> FedSpec {
        self.http = Some(base);
        self
    }

    /// Named `name`, agencies labelled `label`.
    pub fn named(mut self, name: &str, label: &str) -> FedSpec {
        self.name = name.into();
        self.label = label.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        ["A", "B", "C"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn peers_follow_the_links() {
        let ids = ids();
        let p = |l: &Links, i| l.peers_of(&ids, i);
        assert_eq!(p(&Links::Mesh, 1), None);
        assert_eq!(p(&Links::Line, 0), Some(vec!["B".to_string()]));
        assert_eq!(p(&Links::Line, 1), Some(vec!["A".into(), "C".into()]));
        assert_eq!(p(&Links::Star(0), 0), None);
        assert_eq!(p(&Links::Star(0), 2), Some(vec!["A".to_string()]));
        let pairs = Links::Pairs(vec![("A".into(), "C".into())]);
        assert_eq!(p(&pairs, 2), Some(vec!["A".to_string()]));
        assert_eq!(p(&pairs, 1), Some(vec![]));
    }
}
