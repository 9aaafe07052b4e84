//! Handling and versioning flags every kind shares: TLP, scope, handling
//! code, and what a new version supersedes.

use anyhow::{Context, bail};
use clap::Args;
use wildnet_proto::v1 as pb;

use super::enum_value;

use crate::time;

/// Handling and versioning flags shared by every kind.
#[derive(Debug, Clone, Default, Args)]
pub struct HandlingArgs {
    /// TLP: clear, green, amber, amber-strict or red [node default: amber]
    #[arg(long)]
    pub tlp: Option<String>,
    /// Who may hold it: local, federation, agency:ID[,ID…] or group:NAME[,NAME…] [node default: local]
    #[arg(long)]
    pub share: Option<String>,
    /// Handling code: h0 (crime-fighting use only), h1 (not for court without permission), h2 (no onward dissemination), h3 (see --restrictions) [node default: h0]
    #[arg(long)]
    pub code: Option<String>,
    /// The restrictions, for --code h3
    #[arg(long)]
    pub restrictions: Option<String>,
    /// Source evaluation: A, B, C or X
    #[arg(long)]
    pub source: Option<String>,
    /// Information evaluation: 1, 2, 3 or 4
    #[arg(long)]
    pub information: Option<String>,
    /// Tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Related record id (repeatable)
    #[arg(long = "link", value_name = "ID")]
    pub links: Vec<String>,
    /// Id (or unique prefix) of your earlier version this record replaces
    #[arg(long, value_name = "ID")]
    pub supersedes: Option<String>,
    /// Retention limit: purge after this date (YYYY-MM-DD or RFC 3339)
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
}

/// Parses `--tlp`.
pub fn tlp(text: &str) -> anyhow::Result<i32> {
    use pb::Tlp as T;
    enum_value(
        "--tlp",
        text,
        &[
            ("clear", T::Clear as i32),
            ("white", T::Clear as i32),
            ("green", T::Green as i32),
            ("amber", T::Amber as i32),
            ("amber-strict", T::AmberStrict as i32),
            ("amber+strict", T::AmberStrict as i32),
            ("red", T::Red as i32),
        ],
    )
}

/// Parses `--code`.
pub fn code(text: &str) -> anyhow::Result<i32> {
    use pb::HandlingCode as H;
    enum_value(
        "--code",
        text,
        &[
            ("h0", H::H0 as i32),
            ("h1", H::H1 as i32),
            ("h2", H::H2 as i32),
            ("h3", H::H3 as i32),
        ],
    )
}

/// Parses `--share` into scope, agencies and groups.
pub fn share(text: &str, h: &mut pb::Handling) -> anyhow::Result<()> {
    let t = text.trim();
    let list = |s: &str| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
    };
    h.agencies.clear();
    h.groups.clear();
    match t.split_once(':') {
        None if t.eq_ignore_ascii_case("local") => h.scope = pb::Scope::Local as i32,
        None if t.eq_ignore_ascii_case("federation") => h.scope = pb::Scope::Federation as i32,
        Some((k, v)) if k.eq_ignore_ascii_case("agency") || k.eq_ignore_ascii_case("agencies") => {
            h.scope = pb::Scope::Agencies as i32;
            h.agencies = list(v).into_iter().map(|a| a.to_uppercase()).collect();
        }
        Some((k, v)) if k.eq_ignore_ascii_case("group") || k.eq_ignore_ascii_case("groups") => {
            h.scope = pb::Scope::Groups as i32;
            h.groups = list(v);
        }
        _ => {
            bail!("--share {t:?} must be local, federation, agency:ID[,ID…] or group:NAME[,NAME…]")
        }
    }
    Ok(())
}

impl HandlingArgs {
    /// Applies the flags that were given onto a draft (flags win over a file).
    pub fn apply(&self, d: &mut pb::RecordBody) -> anyhow::Result<()> {
        let h = d.handling.get_or_insert_with(Default::default);
        if let Some(t) = &self.tlp {
            h.tlp = tlp(t)?;
        }
        if let Some(s) = &self.share {
            share(s, h)?;
        }
        if let Some(c) = &self.code {
            h.code = code(c)?;
        }
        if let Some(r) = &self.restrictions {
            h.restrictions = r.clone();
        }
        if let Some(s) = &self.source {
            use pb::SourceEvaluation as S;
            h.source = enum_value(
                "--source",
                s,
                &[
                    ("a", S::A as i32),
                    ("b", S::B as i32),
                    ("c", S::C as i32),
                    ("x", S::X as i32),
                ],
            )?;
        }
        if let Some(i) = &self.information {
            use pb::InformationEvaluation as I;
            h.information = enum_value(
                "--information",
                i,
                &[
                    ("1", I::InformationEvaluation1 as i32),
                    ("2", I::InformationEvaluation2 as i32),
                    ("3", I::InformationEvaluation3 as i32),
                    ("4", I::InformationEvaluation4 as i32),
                ],
            )?;
        }
        d.tags.extend(self.tags.iter().cloned());
        d.links.extend(self.links.iter().cloned());
        if let Some(s) = &self.supersedes {
            d.supersedes = s.clone();
        }
        if let Some(e) = &self.expires {
            d.expires_at = time::parse(e).context("--expires")?;
        }
        Ok(())
    }
}
