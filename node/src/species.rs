//! The species reference table shipped with the node (`data/species.csv`):
//! commonly trafficked taxa with their CITES appendix. Used to normalise
//! species names on input and fill in the appendix.

use std::collections::HashMap;

use wildnet_proto::v1 as pb;

const TABLE: &str = include_str!("../data/species.csv");

/// One reference taxon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taxon {
    /// Accepted name; genus-level entries read `Genus spp.`.
    pub scientific_name: String,
    /// Usual English name.
    pub common_name: String,
    /// CITES appendix.
    pub appendix: pb::CitesAppendix,
}

/// Lookup by scientific name, common name, alias or genus.
#[derive(Debug)]
pub struct SpeciesTable {
    taxa: Vec<Taxon>,
    by_name: HashMap<String, usize>,
    by_genus: HashMap<String, usize>,
}

fn key(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `i` / `ii` / `iii` (any case, with or without "appendix") to the enum.
pub fn parse_appendix(s: &str) -> Option<pb::CitesAppendix> {
    let s = s.trim().to_ascii_uppercase();
    let s = s.strip_prefix("APPENDIX").unwrap_or(&s).trim();
    match s {
        "I" | "1" => Some(pb::CitesAppendix::I),
        "II" | "2" => Some(pb::CitesAppendix::Ii),
        "III" | "3" => Some(pb::CitesAppendix::Iii),
        "NONE" | "NOT-LISTED" | "NOT_LISTED" => Some(pb::CitesAppendix::NotListed),
        _ => None,
    }
}

/// The short text of an appendix (`I`, `II`, `III`, `none`, or empty).
pub fn appendix_text(a: i32) -> &'static str {
    match pb::CitesAppendix::try_from(a) {
        Ok(pb::CitesAppendix::I) => "I",
        Ok(pb::CitesAppendix::Ii) => "II",
        Ok(pb::CitesAppendix::Iii) => "III",
        Ok(pb::CitesAppendix::NotListed) => "none",
        _ => "",
    }
}

impl SpeciesTable {
    /// The table compiled into the binary.
    pub fn builtin() -> SpeciesTable {
        // The shipped table is checked by a unit test; a bad line is skipped
        // rather than aborting the node.
        SpeciesTable::parse(TABLE).unwrap_or_else(|_| SpeciesTable {
            taxa: Vec::new(),
            by_name: HashMap::new(),
            by_genus: HashMap::new(),
        })
    }

    /// Parses `scientific_name,common_name,cites_appendix,aliases` CSV.
    pub fn parse(text: &str) -> Result<SpeciesTable, String> {
        let mut t = SpeciesTable {
            taxa: Vec::new(),
            by_name: HashMap::new(),
            by_genus: HashMap::new(),
        };
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 4 {
                return Err(format!("species table line {}: expected 4 fields", n + 1));
            }
            let appendix = parse_appendix(f[2])
                .ok_or_else(|| format!("species table line {}: bad appendix {:?}", n + 1, f[2]))?;
            let i = t.taxa.len();
            let sci = f[0].trim();
            if let Some(genus) = sci.strip_suffix(" spp.") {
                t.by_genus.insert(key(genus), i);
            }
            t.by_name.insert(key(sci), i);
            t.by_name.entry(key(f[1])).or_insert(i);
            for alias in f[3].split('|').filter(|a| !a.trim().is_empty()) {
                t.by_name.entry(key(alias)).or_insert(i);
            }
            t.taxa.push(Taxon {
                scientific_name: sci.to_string(),
                common_name: f[1].trim().to_string(),
                appendix,
            });
        }
        Ok(t)
    }

    /// Number of taxa.
    pub fn len(&self) -> usize {
        self.taxa.len()
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.taxa.is_empty()
    }

    /// Finds a taxon by any of its names, or the genus entry of a binomial.
    pub fn lookup(&self, name: &str) -> Option<&Taxon> {
        let k = key(name);
        if let Some(&i) = self.by_name.get(&k) {
            return Some(&self.taxa[i]);
        }
        let genus = k.split(' ').next()?;
        self.by_genus.get(genus).map(|&i| &self.taxa[i])
    }

    /// Normalises a species in place: the accepted scientific name and
    /// common name of a known taxon, its appendix when none was given;
    /// an unknown binomial gets `Genus species` capitalisation and the
    /// appendix of its genus entry when there is one.
    pub fn fill(&self, s: &mut pb::Species) {
        let name = if s.scientific_name.trim().is_empty() {
            s.common_name.clone()
        } else {
            s.scientific_name.clone()
        };
        let exact = self.by_name.get(&key(&name)).map(|&i| &self.taxa[i]);
        // A binomial that the table only knows as an alias of its genus
        // entry keeps its own name (and takes the genus appendix below).
        let exact = exact.filter(|t| {
            !(t.scientific_name.ends_with(" spp.")
                && key(&name).split(' ').count() >= 2
                && key(&t.scientific_name).starts_with(key(&name).split(' ').next().unwrap_or("")))
        });
        match (exact, self.lookup(&name)) {
            (Some(t), _) => {
                s.scientific_name = t.scientific_name.clone();
                if s.common_name.trim().is_empty() || key(&s.common_name) == key(&name) {
                    s.common_name = t.common_name.clone();
                }
                if s.cites_appendix == 0 {
                    s.cites_appendix = t.appendix as i32;
                }
            }
            (None, genus) => {
                s.scientific_name = binomial_case(&name);
                s.common_name = s.common_name.trim().to_string();
                if let (Some(g), 0) = (genus, s.cites_appendix) {
                    s.cites_appendix = g.appendix as i32;
                }
            }
        }
    }
}

/// `manis JAVANICA` → `Manis javanica`.
pub fn binomial_case(name: &str) -> String {
    let lower = key(name);
    let mut c = lower.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped table parses and covers the taxa the issue names.
    #[test]
    fn builtin_table_is_complete() {
        let t = SpeciesTable::parse(TABLE).expect("species.csv parses");
        assert!(t.len() >= 60, "only {} taxa", t.len());
        for (name, app) in [
            ("Manis javanica", pb::CitesAppendix::I),
            ("Loxodonta africana", pb::CitesAppendix::I),
            ("Panthera tigris", pb::CitesAppendix::I),
            ("Psittacus erithacus", pb::CitesAppendix::I),
            ("Totoaba macdonaldi", pb::CitesAppendix::I),
            ("Dalbergia cochinchinensis", pb::CitesAppendix::Ii),
            ("Diceros bicornis", pb::CitesAppendix::I),
            ("Astrochelys radiata", pb::CitesAppendix::I),
        ] {
            let taxon = t.lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(taxon.appendix, app, "{name}");
        }
    }

    /// Names are normalised and the appendix filled, from any known name.
    #[test]
    fn fill_normalises() {
        let t = SpeciesTable::builtin();
        let mut s = pb::Species {
            scientific_name: "  manis   JAVANICA ".into(),
            ..Default::default()
        };
        t.fill(&mut s);
        assert_eq!(s.scientific_name, "Manis javanica");
        assert_eq!(s.common_name, "Sunda pangolin");
        assert_eq!(s.cites_appendix, pb::CitesAppendix::I as i32);

        let mut s = pb::Species {
            scientific_name: "sunda pangolin".into(),
            ..Default::default()
        };
        t.fill(&mut s);
        assert_eq!(s.scientific_name, "Manis javanica");
    }

    /// An unknown species of a genus-listed genus takes the genus appendix.
    #[test]
    fn genus_fallback() {
        let t = SpeciesTable::builtin();
        let mut s = pb::Species {
            scientific_name: "dalbergia inventa".into(),
            ..Default::default()
        };
        t.fill(&mut s);
        assert_eq!(s.scientific_name, "Dalbergia inventa");
        assert_eq!(s.cites_appendix, pb::CitesAppendix::Ii as i32);

        let mut s = pb::Species {
            scientific_name: "felis catus".into(),
            ..Default::default()
        };
        t.fill(&mut s);
        assert_eq!(s.scientific_name, "Felis catus");
        assert_eq!(s.cites_appendix, 0);

        // A binomial listed only as an alias of its genus entry keeps its name.
        let mut s = pb::Species {
            scientific_name: "nycticebus coucang".into(),
            ..Default::default()
        };
        t.fill(&mut s);
        assert_eq!(s.scientific_name, "Nycticebus coucang");
        assert_eq!(s.cites_appendix, pb::CitesAppendix::I as i32);
        let mut s = pb::Species {
            scientific_name: "felis catus".into(),
            ..Default::default()
        };
        t.fill(&mut s);
        assert_eq!(s.cites_appendix, 0);
    }
}
