//! Reading: a record with its versions (or its tombstone), and queries
//! over the indexes.

use wildnet_proto::v1 as pb;

use super::{Node, NodeError};
use crate::record::terms::{self, Field, Term};
use crate::record::{self, AgencyId, RecordId, selector};
use crate::species::SpeciesTable;
use crate::storage::{Query, QueryPage, StoreError, Stored};

impl Node {
    /// A record and its versions, or its tombstone.
    pub fn get(&self, id_text: &str) -> Result<(Stored, Vec<Stored>), NodeError> {
        let id = self.store.resolve(id_text)?;
        match self.store.get(&id)? {
            Some(s) => {
                let history = self.store.history(&id)?;
                Ok((s, history))
            }
            None => match self.store.tombstone(&id)? {
                Some(t) => {
                    let mut reason =
                        format!("{} — retraction {} by {}", t.reason, t.retraction, t.author);
                    if !t.confirmed {
                        let by: Vec<&str> = std::iter::once(t.author.as_str())
                            .chain(t.rivals.iter().map(|r| r.author.as_str()))
                            .collect();
                        reason.push_str(&format!(
                            "; pending: never held here, so a copy is refused only if written by {}",
                            by.join(" or ")
                        ));
                    }
                    // On the author's node: who confirmed the deletion
                    // (their receipts for the retraction record).
                    if t.author == self.agency.as_str()
                        && let Ok(r) = t.retraction.parse::<RecordId>()
                    {
                        let confirmed: Vec<String> =
                            self.holders(&r)?.into_iter().map(|(a, _)| a).collect();
                        if !confirmed.is_empty() {
                            reason.push_str(&format!(
                                "; deletion confirmed by {}",
                                confirmed.join(", ")
                            ));
                        }
                    }
                    Err(NodeError::Store(StoreError::Retracted { id: t.id, reason }))
                }
                None => Err(NodeError::Store(StoreError::NotFound(id_text.to_string()))),
            },
        }
    }

    /// Runs a query request.
    pub fn query(&self, req: &pb::QueryRequest) -> Result<QueryPage, NodeError> {
        let q = build_query(req, &self.species, Some(self.agency.country()))?;
        Ok(self.store.query(&q)?)
    }
}

/// Turns API filters into index terms; each filter value is normalised the
/// same way the indexed values were (a national phone format read in
/// `region`, this node's country).
pub fn build_query(
    req: &pb::QueryRequest,
    species: &SpeciesTable,
    region: Option<&str>,
) -> Result<Query, NodeError> {
    let mut t = what_terms(req, species)?;
    t.extend(who_terms(req, region)?);
    if req.since != 0 && req.until != 0 && req.until <= req.since {
        return Err(NodeError::Invalid("--until must be after --since".into()));
    }
    let after =
        if req.page_token.is_empty() {
            None
        } else {
            Some(Query::after_token(&req.page_token).ok_or_else(|| {
                NodeError::Invalid("page_token is not one this node issued".into())
            })?)
        };
    Ok(Query {
        terms: t,
        since: (req.since != 0).then_some(req.since),
        until: (req.until != 0).then_some(req.until),
        limit: if req.limit == 0 {
            100
        } else {
            req.limit.min(1000) as usize
        },
        after,
        history: req.history,
    })
}

fn trimmed(v: &str) -> String {
    v.trim().to_string()
}

/// Terms of what a record is about: kind, species, appendix, country,
/// platform, seller.
fn what_terms(req: &pb::QueryRequest, species: &SpeciesTable) -> Result<Vec<Term>, NodeError> {
    let mut t: Vec<Term> = Vec::new();
    let s = trimmed;
    if !req.kind.trim().is_empty() {
        let k = req.kind.trim().to_lowercase().replace('-', "_");
        if !record::KINDS.contains(&k.as_str()) {
            return Err(NodeError::Invalid(format!(
                "unknown kind {k:?}: use one of {}",
                record::KINDS.join(", ")
            )));
        }
        t.push((Field::Kind, k));
    }
    if !req.species.trim().is_empty() {
        let mut sp = pb::Species {
            scientific_name: s(&req.species),
            ..Default::default()
        };
        species.fill(&mut sp);
        t.push((Field::Species, sp.scientific_name.to_lowercase()));
    }
    if !req.appendix.trim().is_empty() {
        let a = crate::species::parse_appendix(&req.appendix)
            .map(|a| crate::species::appendix_text(a as i32))
            .filter(|a| matches!(*a, "I" | "II" | "III"))
            .ok_or_else(|| {
                NodeError::Invalid(format!("appendix {:?} must be I, II or III", req.appendix))
            })?;
        t.push((Field::Appendix, a.to_string()));
    }
    if !req.country.trim().is_empty() {
        let c = s(&req.country).to_uppercase();
        record::validate::country("country", &c)?;
        t.push((Field::Country, c));
    }
    if !req.platform.trim().is_empty() {
        t.push((Field::Platform, s(&req.platform).to_lowercase()));
    }
    if !req.seller.trim().is_empty() {
        t.push((
            Field::Seller,
            s(&req.seller).trim_start_matches('@').to_lowercase(),
        ));
    }
    Ok(t)
}

/// Terms of who and how: selector, author, handling code, tag, words.
fn who_terms(req: &pb::QueryRequest, region: Option<&str>) -> Result<Vec<Term>, NodeError> {
    let mut t: Vec<Term> = Vec::new();
    let s = trimmed;
    if !req.selector.trim().is_empty() {
        let sel = selector::parse(&req.selector, region).map_err(NodeError::Invalid)?;
        t.push((Field::Selector, selector::text(&sel)));
    }
    if !req.author.trim().is_empty() {
        let a: AgencyId = s(&req.author)
            .to_uppercase()
            .parse()
            .map_err(|e: record::IdError| NodeError::Invalid(e.to_string()))?;
        t.push((Field::Author, a.to_string()));
    }
    if !req.code.trim().is_empty() {
        let c = s(&req.code).to_uppercase();
        if !matches!(c.as_str(), "H0" | "H1" | "H2" | "H3") {
            return Err(NodeError::Invalid(format!(
                "handling code {:?} must be H0, H1, H2 or H3",
                req.code
            )));
        }
        t.push((Field::Code, c));
    }
    if !req.tag.trim().is_empty() {
        t.push((Field::Tag, s(&req.tag).to_lowercase()));
    }
    let words: Vec<String> = terms::words(&req.text).collect();
    if !req.text.trim().is_empty() && words.is_empty() {
        return Err(NodeError::Invalid(
            "--text needs at least one word of 3 or more letters".into(),
        ));
    }
    t.extend(words.into_iter().map(|w| (Field::Word, w)));
    Ok(t)
}
