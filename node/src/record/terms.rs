//! The searchable terms of a record: what the store indexes and what a
//! query filter matches. One function feeds both, so an index entry and a
//! filter can never disagree.

use wildnet_proto::v1 as pb;

use super::selector;
use crate::species::appendix_text;

/// Which index a term belongs to. The byte is the index key prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Field {
    /// Every record (time order); value empty.
    All = b'*',
    /// Payload kind name.
    Kind = b'k',
    /// Scientific name, lowercase.
    Species = b's',
    /// CITES appendix text (`I`, `II`, `III`).
    Appendix = b'a',
    /// Country code (listing, seizure, route, nationality).
    Country = b'c',
    /// Platform name, lowercase.
    Platform = b'p',
    /// Seller handle, lowercase, without @.
    Seller = b'h',
    /// Correlation key of a selector, `kind:value` ([`selector`]).
    Selector = b'x',
    /// Author agency.
    Author = b'u',
    /// Tag.
    Tag = b't',
    /// A word of the record's text fields.
    Word = b'w',
    /// Law-enforcement handling code (`H0`…`H3`).
    Code = b'H',
    /// The coordinated operation a record belongs to (the proposal's id).
    Operation = b'o',
}

impl Field {
    /// Every field, for stats and tests.
    pub const ALL: [Field; 13] = [
        Field::All,
        Field::Kind,
        Field::Species,
        Field::Appendix,
        Field::Country,
        Field::Platform,
        Field::Seller,
        Field::Selector,
        Field::Author,
        Field::Tag,
        Field::Word,
        Field::Code,
        Field::Operation,
    ];

    /// The `stats --by` name of a field, when it can be grouped by.
    pub fn by_name(name: &str) -> Option<Field> {
        Some(match name {
            "kind" => Field::Kind,
            "species" => Field::Species,
            "appendix" => Field::Appendix,
            "country" => Field::Country,
            "platform" => Field::Platform,
            "author" => Field::Author,
            "tag" => Field::Tag,
            "seller" => Field::Seller,
            "code" => Field::Code,
            _ => return None,
        })
    }
}

/// One searchable term.
pub type Term = (Field, String);

/// Whether stats keep a counter for this field (words, selectors and
/// operations are too many to count; `All` counts the records).
pub fn counted(field: Field) -> bool {
    !matches!(field, Field::Word | Field::Selector | Field::Operation)
}

/// All terms of a record: those of its body, and the operation it belongs
/// to (a proposal's is its own id, which only the signed bytes give).
pub fn of(rec: &super::Record) -> Vec<Term> {
    let mut t = terms(rec.body());
    if let Some(op) = super::operation::operation_of(rec) {
        t.push((Field::Operation, op.to_hex()));
        t.sort();
    }
    t
}

/// Lowercase words of 3+ letters or digits, for `--text`.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
}

/// All terms of a body, deduplicated and sorted. One table, field by
/// field, per payload kind: it reads better whole (over 60 lines on
/// purpose).
fn terms(body: &pb::RecordBody) -> Vec<Term> {
    use pb::record_body::Payload as P;
    let mut t: Vec<Term> = vec![
        (Field::All, String::new()),
        (Field::Kind, super::kind_of(body).to_string()),
        (Field::Author, body.author.clone()),
    ];
    if let Some(h) = &body.handling
        && let Ok(code) = pb::HandlingCode::try_from(h.code)
        && code != pb::HandlingCode::Unspecified
    {
        t.push((Field::Code, format!("H{}", h.code - 1)));
    }
    t.extend(body.tags.iter().map(|g| (Field::Tag, g.to_lowercase())));
    let mut text = String::new();
    let species = |t: &mut Vec<Term>, s: &pb::Species| {
        t.push((Field::Species, s.scientific_name.to_lowercase()));
        let app = appendix_text(s.cites_appendix);
        if matches!(app, "I" | "II" | "III") {
            t.push((Field::Appendix, app.to_string()));
        }
    };
    let region = selector::region_of(body);
    let selectors = |t: &mut Vec<Term>, sels: &[pb::Selector]| {
        t.extend(
            sels.iter()
                .filter_map(|s| selector::correlation_key(s, region.as_deref()))
                .map(|k| (Field::Selector, k)),
        );
    };
    match &body.payload {
        Some(P::Listing(l)) => {
            if let Some(s) = &l.species {
                species(&mut t, s);
            }
            if !l.country.is_empty() {
                t.push((Field::Country, l.country.clone()));
            }
            t.push((Field::Platform, l.platform.to_lowercase()));
            if !l.seller_handle.is_empty() {
                let seller = l.seller_handle.trim_start_matches('@').to_lowercase();
                if let Ok(h) = selector::handle_of(&l.platform, &seller) {
                    t.push((Field::Selector, format!("handle:{h}")));
                }
                t.push((Field::Seller, seller));
            }
            if let Ok(u) = selector::url(&l.url) {
                t.push((Field::Selector, format!("url:{u}")));
            }
            selectors(&mut t, &l.selectors);
            for s in [&l.title, &l.text, &l.seller_handle] {
                text.push_str(s);
                text.push(' ');
            }
        }
        Some(P::Entity(e)) => {
            t.extend(e.nationalities.iter().map(|c| (Field::Country, c.clone())));
            selectors(&mut t, &e.selectors);
            for n in &e.names {
                text.push_str(n);
                text.push(' ');
            }
            text.push_str(&e.description);
        }
        Some(P::Seizure(s)) => {
            for sp in &s.species {
                species(&mut t, sp);
            }
            t.push((Field::Country, s.country.clone()));
            if let Some(r) = &s.route {
                for c in std::iter::once(&r.origin)
                    .chain(r.transit.iter())
                    .chain(std::iter::once(&r.destination))
                    .filter(|c| !c.is_empty())
                {
                    t.push((Field::Country, c.clone()));
                }
            }
            selectors(&mut t, &s.selectors);
            for s in [&s.place, &s.concealment, &s.description] {
                text.push_str(s);
                text.push(' ');
            }
        }
        Some(P::Note(n)) => {
            selectors(&mut t, &n.selectors);
            text.push_str(&n.title);
            text.push(' ');
            text.push_str(&n.text);
        }
        Some(P::OperationProposal(p)) => {
            selectors(&mut t, &p.target_selectors);
            text.push_str(&p.code_name);
            text.push(' ');
            text.push_str(&p.objective);
        }
        Some(P::OperationResponse(r)) => text.push_str(&r.commitments),
        Some(P::OperationUpdate(u)) => text.push_str(&u.outcome),
        Some(P::Retraction(r)) => text.push_str(&r.reason),
        None => {}
    }
    t.extend(words(&text).map(|w| (Field::Word, w)));
    t.sort();
    t.dedup();
    t
}
