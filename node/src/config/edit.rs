//! A typed editor of `node.toml` (on `toml_edit`, so the operator's
//! comments and layout survive): the one way tools and tests change a
//! node's config. Every save is checked against the same parser the node
//! uses, so an edit can never leave a config the node would refuse to
//! read.

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Table, value};

use super::{Config, ConfigError, Settings};

/// An open `node.toml`.
#[derive(Debug, Clone)]
pub struct NodeToml {
    path: PathBuf,
    doc: DocumentMut,
}

impl NodeToml {
    /// Reads `path`.
    pub fn open(path: &Path) -> Result<NodeToml, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| parse_error(path, e))?;
        Ok(NodeToml {
            path: path.to_path_buf(),
            doc,
        })
    }

    /// Whether a `[federation]` section is present.
    pub fn is_federated(&self) -> bool {
        self.doc.contains_table("federation")
    }

    /// Adds the documented `[federation]` section `federation join`
    /// writes, listening on `listen`, unless one is present.
    pub fn add_federation(&mut self, listen: &str) -> Result<(), ConfigError> {
        if self.is_federated() {
            return Ok(());
        }
        let text = format!("{}{}", self.doc, federation_section(listen));
        self.doc = text
            .parse::<DocumentMut>()
            .map_err(|e| parse_error(&self.path, e))?;
        Ok(())
    }

    /// `[federation] listen`.
    pub fn set_listen(&mut self, addr: &str) {
        self.federation()["listen"] = value(addr);
    }

    /// `[federation] peers`: the agencies this node dials.
    pub fn set_peers<S: AsRef<str>>(&mut self, peers: &[S]) {
        let list: Array = peers.iter().map(|p| p.as_ref()).collect();
        self.federation()["peers"] = value(list);
    }

    /// `[federation] hello_interval_secs`.
    pub fn set_hello_interval(&mut self, secs: u64) {
        self.federation()["hello_interval_secs"] = value(secs as i64);
    }

    /// `[federation] verify_interval_secs`.
    pub fn set_verify_interval(&mut self, secs: u64) {
        self.federation()["verify_interval_secs"] = value(secs as i64);
    }

    /// `[federation.share.<peer>] max_tlp` (`default` for unlisted peers).
    pub fn set_share_max_tlp(&mut self, peer: &str, max_tlp: &str) {
        let share = sub_table(self.federation(), "share");
        sub_table(share, peer)["max_tlp"] = value(max_tlp);
    }

    /// `[http] listen`: serve metrics, health and the dashboard here.
    pub fn set_http_listen(&mut self, addr: &str) {
        self.set_http("listen", addr);
    }

    /// `[http] <key>` (listen, tls_cert, tls_key, users).
    pub fn set_http(&mut self, key: &str, text: &str) {
        sub_table(self.doc.as_table_mut(), "http")[key] = value(text);
    }

    /// `[api] tcp`: also serve the Agency service on this TCP address.
    pub fn set_api_tcp(&mut self, addr: &str) {
        sub_table(self.doc.as_table_mut(), "api")["tcp"] = value(addr);
    }

    /// The text as it would be saved.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// Writes the file, after checking that the node would accept it.
    pub fn save(&self) -> Result<(), ConfigError> {
        let text = self.text();
        let cfg = toml::from_str::<Config>(&text).map_err(|e| ConfigError::Parse {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let base = self.path.parent().unwrap_or(Path::new("."));
        Settings::from_config(cfg, base).map_err(|message| ConfigError::Invalid {
            path: self.path.clone(),
            message,
        })?;
        std::fs::write(&self.path, text).map_err(|source| ConfigError::Read {
            path: self.path.clone(),
            source,
        })
    }

    fn federation(&mut self) -> &mut Table {
        sub_table(self.doc.as_table_mut(), "federation")
    }
}

/// The table `key` of `parent`, created when missing.
fn sub_table<'a>(parent: &'a mut Table, key: &str) -> &'a mut Table {
    let item = parent.entry(key).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    if !item.is_table() {
        *item = Item::Table(Table::new());
    }
    item.as_table_mut().expect("a table was just put here")
}

fn parse_error(path: &Path, e: toml_edit::TomlError) -> ConfigError {
    ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The `[federation]` section, with the operator's comments.
fn federation_section(listen: &str) -> String {
    format!(
        "\n[federation]\n# Federation service (mutual TLS 1.3), the address the manifest lists.\nlisten = \"{listen}\"\nca = \"{ca}\"\ncert = \"{cert}\"\nmanifest = \"{manifest}\"\n# Agencies to dial; absent: every other agency of the manifest.\n# peers = [\"ZA-DFFE\"]\n# Seconds between manifest checks on an idle peer link.\nhello_interval_secs = 30\n# Seconds between completeness checks with each peer (0: on demand only).\nverify_interval_secs = 3600\n",
        ca = crate::layout::JOINED_CA_FILE,
        cert = crate::layout::JOINED_CERT_FILE,
        manifest = crate::layout::JOINED_MANIFEST_FILE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AgencyId;

    /// Edits keep the comments, land where the node reads them, and a
    /// save that the node would refuse is refused.
    #[test]
    fn edits_are_typed_and_checked() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("node.toml");
        let id: AgencyId = "KE-KWS".parse().expect("id");
        std::fs::write(&path, super::super::default_toml(&id, "Kenya")).expect("write");
        let mut t = NodeToml::open(&path).expect("open");
        assert!(!t.is_federated());
        t.add_federation("127.0.0.1:7701").expect("section");
        t.set_peers(&["ZA-DFFE", "GB-NWCU"]);
        t.set_hello_interval(1);
        t.set_share_max_tlp("ZA-DFFE", "green");
        t.set_api_tcp("127.0.0.1:0");
        t.save().expect("save");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.contains("# Federation service (mutual TLS 1.3)"),
            "{text}"
        );
        let s = crate::config::Settings::load(&path).expect("the node reads it");
        let f = s.federation.expect("federated");
        assert_eq!(
            f.peers,
            Some(vec!["ZA-DFFE".to_string(), "GB-NWCU".to_string()])
        );
        assert_eq!(f.hello_interval_secs, 1);
        assert_eq!(f.share["ZA-DFFE"].max_tlp, wildnet_proto::v1::Tlp::Green);
        assert!(s.tcp.is_some());
        // Adding the section again changes nothing.
        let mut again = NodeToml::open(&path).expect("open");
        again.add_federation("127.0.0.1:9").expect("no-op");
        assert_eq!(again.text(), text);

        again.set_share_max_tlp("ZA-DFFE", "purple");
        let e = again.save().expect_err("an unknown TLP was saved");
        assert!(
            e.to_string().contains("purple") || e.to_string().contains("tlp"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    }
}
