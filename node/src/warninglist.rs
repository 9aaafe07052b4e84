//! Warninglists: values known to link nothing (a marketplace's no-reply
//! address, a placeholder number, a reserved domain), in MISP's JSON shape
//! (`name`, `version`, `description`, `matching_attributes`, `type`,
//! `list`). A selector on a warninglist stays indexed and queryable, but is
//! left out of correlation results and raises no alert. wildnet ships three
//! lists (`node/warninglists/`); operators add their own files with
//! `[correlation] warninglists`. Pure: parsing and matching.
//!
//! Match types: `string` (the whole value; `%` matches any run of
//! characters, as in MISP's correlation exclusions), `substring`, and
//! `hostname` (a URL's host or an e-mail address's domain is the entry or
//! one of its subdomains). Matching ignores case.

use serde::Deserialize;

/// One list as written.
#[derive(Debug, Clone, Deserialize)]
pub struct Warninglist {
    /// What the list is.
    pub name: String,
    /// Its version (MISP uses a date, e.g. 20261202).
    pub version: u64,
    /// Why its values link nothing.
    #[serde(default)]
    pub description: String,
    /// Which selectors it applies to: wildnet kind names, or MISP
    /// attribute types (`phone-number`, `email-src`, `domain`, `btc`, …).
    pub matching_attributes: Vec<String>,
    /// `string` (default), `substring` or `hostname`.
    #[serde(default = "default_type", rename = "type")]
    pub match_type: String,
    /// The values.
    pub list: Vec<String>,
}

fn default_type() -> String {
    "string".into()
}

/// The lists wildnet ships.
const SHIPPED: [(&str, &str); 3] = [
    (
        "marketplace-contacts.json",
        include_str!("../warninglists/marketplace-contacts.json"),
    ),
    (
        "placeholder-numbers.json",
        include_str!("../warninglists/placeholder-numbers.json"),
    ),
    (
        "reserved-domains.json",
        include_str!("../warninglists/reserved-domains.json"),
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchType {
    String,
    Substring,
    Hostname,
}

#[derive(Debug, Clone)]
struct Compiled {
    label: String,
    kinds: Vec<&'static str>,
    match_type: MatchType,
    values: Vec<String>,
}

/// Every list in force, ready to match.
#[derive(Debug, Clone, Default)]
pub struct Warninglists {
    lists: Vec<Compiled>,
}

/// The wildnet kinds a MISP attribute type (or a wildnet kind) covers.
fn kinds_of(attribute: &str) -> &'static [&'static str] {
    match attribute.trim().to_ascii_lowercase().as_str() {
        "phone" | "phone-number" | "whois-registrant-phone" => &["phone"],
        "email"
        | "email-src"
        | "email-dst"
        | "target-email"
        | "whois-registrant-email"
        | "email-reply-to" => &["email"],
        "url" | "link" | "uri" => &["url"],
        "domain" | "hostname" => &["url", "email"],
        "handle" => &["handle"],
        "wallet" | "btc" | "xmr" | "cryptocurrency-wallet" => &["wallet"],
        "imo" => &["imo"],
        "plate" => &["plate"],
        _ => &[],
    }
}

impl Warninglists {
    /// The shipped lists.
    pub fn shipped() -> Warninglists {
        let mut w = Warninglists::default();
        for (file, text) in SHIPPED {
            // The shipped files are tested to parse.
            if let Err(e) = w.add_json(text) {
                tracing::error!(file, cause = %e, "a shipped warninglist does not parse");
            }
        }
        w
    }

    /// Adds one list from its JSON text; says what is wrong with it.
    pub fn add_json(&mut self, text: &str) -> Result<(), String> {
        let l: Warninglist = serde_json::from_str(text)
            .map_err(|e| format!("not a warninglist in MISP's JSON shape: {e}"))?;
        self.add(l)
    }

    /// Adds one list.
    pub fn add(&mut self, l: Warninglist) -> Result<(), String> {
        let match_type = match l.match_type.as_str() {
            "string" => MatchType::String,
            "substring" => MatchType::Substring,
            "hostname" => MatchType::Hostname,
            other => {
                return Err(format!(
                    "{}: type {other:?} is not supported: use string, substring or hostname",
                    l.name
                ));
            }
        };
        let mut kinds: Vec<&'static str> = l
            .matching_attributes
            .iter()
            .flat_map(|a| kinds_of(a).iter().copied())
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        if kinds.is_empty() {
            return Err(format!(
                "{}: matching_attributes {:?} names no selector kind (use phone, email, url, handle, wallet, imo, plate or MISP types such as phone-number, email-src, domain)",
                l.name, l.matching_attributes
            ));
        }
        self.lists.push(Compiled {
            label: format!("{} ({})", l.name, l.version),
            kinds,
            match_type,
            values: l.list.iter().map(|v| v.trim().to_lowercase()).collect(),
        });
        Ok(())
    }

    /// How many lists are in force.
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    /// True when no list is in force.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// The list (`name (version)`) a correlation key (`kind:value`) is on.
    pub fn find(&self, key: &str) -> Option<&str> {
        let (kind, value) = key.split_once(':')?;
        let value = value.to_lowercase();
        self.lists
            .iter()
            .filter(|l| l.kinds.contains(&kind))
            .find(|l| {
                l.values
                    .iter()
                    .any(|p| matches(l.match_type, kind, &value, p))
            })
            .map(|l| l.label.as_str())
    }
}

fn matches(t: MatchType, kind: &str, value: &str, pattern: &str) -> bool {
    match t {
        MatchType::String => like(value, pattern),
        MatchType::Substring => value.contains(pattern),
        MatchType::Hostname => host_of(kind, value).is_some_and(|h| {
            h == pattern
                || h.strip_suffix(pattern)
                    .is_some_and(|rest| rest.ends_with('.'))
        }),
    }
}

/// The host of a URL or the domain of an e-mail address.
fn host_of(kind: &str, value: &str) -> Option<String> {
    match kind {
        "email" => value.rsplit_once('@').map(|(_, d)| d.to_string()),
        "url" => url::Url::parse(value)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string)),
        _ => None,
    }
}

/// SQL `LIKE` with `%` only: the pieces between `%` appear in order, the
/// first at the start unless the pattern starts with `%`, the last at the
/// end unless it ends with `%`.
fn like(value: &str, pattern: &str) -> bool {
    let pieces: Vec<&str> = pattern.split('%').collect();
    if pieces.len() == 1 {
        return value == pattern;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_lists_parse_and_match_what_they_name() {
        let w = Warninglists::shipped();
        assert_eq!(w.len(), 3, "every shipped list parses");
        let on = |k: &str| w.find(k).map(str::to_string);
        assert!(on("email:noreply@shop.example.com").is_some());
        assert!(on("email:seller@facebookmail.com").is_some());
        assert!(on("phone:+442079460123").is_some(), "Ofcom drama number");
        assert!(
            on("phone:+12125550123").is_some(),
            "North American 555-01XX"
        );
        assert!(on("url:https://olx.example/listing/9").is_some());
        assert!(on("url:https://shop.example.com/x").is_some());
        assert!(on("email:trader@test").is_some());
        for real in [
            "phone:+254712345678",
            "email:trader@gmail.com",
            "url:https://olx.co.ke/item/1",
            "url:https://notexample.com/x",
            "handle:facebook:noreply",
        ] {
            assert_eq!(on(real), None, "{real}");
        }
    }

    #[test]
    fn like_patterns() {
        assert!(like("noreply@a.b", "noreply@%"));
        assert!(like("x@facebookmail.com", "%@facebookmail.com"));
        assert!(like("+12125550123", "+1%55501%"));
        assert!(like("abc", "a%c"));
        assert!(like("ac", "a%c"));
        assert!(!like("abd", "a%c"));
        assert!(!like("xabc", "abc"));
        assert!(!like("a", "a%a"));
    }

    #[test]
    fn an_operators_list_is_checked() {
        let mut w = Warninglists::default();
        let own = r#"{"name": "KE-KWS public lines", "version": 1,
                      "matching_attributes": ["phone-number"], "list": ["+254800597000"]}"#;
        w.add_json(own).expect("valid list");
        assert_eq!(
            w.find("phone:+254800597000"),
            Some("KE-KWS public lines (1)")
        );
        assert!(w.add_json("{}").expect_err("no fields").contains("MISP"));
        let bad_type = r#"{"name": "x", "version": 1, "matching_attributes": ["url"], "type": "regex", "list": []}"#;
        assert!(w.add_json(bad_type).expect_err("regex").contains("regex"));
        let no_kind = r#"{"name": "x", "version": 1, "matching_attributes": ["md5"], "list": []}"#;
        assert!(
            w.add_json(no_kind)
                .expect_err("md5")
                .contains("no selector kind")
        );
    }
}
