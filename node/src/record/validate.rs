//! Well-formedness of a `RecordBody`: one rule per check, each failure
//! naming the field and what is expected. Pure: no I/O, no clock.

use wildnet_proto::v1 as pb;

use super::SCHEMA_VERSION;
use super::id::{AgencyId, RecordId};
use super::selector;

mod operation;
mod seizure;

pub use seizure::CITES_UNITS;

/// Size limits enforced on records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted body, in bytes.
    pub max_body_bytes: usize,
    /// How far in the future `created_at` may be, in milliseconds: the
    /// clock skew allowed between the author's node and this one.
    pub max_clock_skew_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_clock_skew_ms: super::MAX_CLOCK_SKEW_MS,
        }
    }
}

/// Longest accepted text field, in bytes.
pub const MAX_TEXT: usize = 32 * 1024;
/// Longest accepted short field (names, handles, tags), in bytes.
pub const MAX_SHORT: usize = 512;
/// Most entries in any repeated field.
pub const MAX_ITEMS: usize = 256;

/// A body rule that was broken: the field, and what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    /// Dotted path of the offending field, e.g. `handling.agencies[1]`.
    pub field: String,
    /// What is wrong and what is expected.
    pub problem: String,
}

fn err(field: impl Into<String>, problem: impl Into<String>) -> ValidationError {
    ValidationError {
        field: field.into(),
        problem: problem.into(),
    }
}

type V = Result<(), ValidationError>;

/// Checks every rule of the record model on `body`: one list of rules in
/// the order of the schema, kept whole (over 60 lines on purpose).
pub fn validate_body(body: &pb::RecordBody, _limits: &Limits) -> V {
    if body.schema_version != SCHEMA_VERSION {
        return Err(err(
            "schema_version",
            format!("must be {SCHEMA_VERSION}, got {}", body.schema_version),
        ));
    }
    body.author
        .parse::<AgencyId>()
        .map_err(|e| err("author", e.to_string()))?;
    if body.created_at <= 0 {
        return Err(err("created_at", "must be a positive unix time in ms"));
    }
    validate_handling(body.handling.as_ref())?;
    items("tags", &body.tags, 64)?;
    for (i, t) in body.tags.iter().enumerate() {
        short(&format!("tags[{i}]"), t, true)?;
        if t.len() > 64 {
            return Err(err(format!("tags[{i}]"), "at most 64 bytes"));
        }
    }
    if !body.supersedes.is_empty() {
        record_id("supersedes", &body.supersedes)?;
    }
    items("links", &body.links, MAX_ITEMS)?;
    for (i, l) in body.links.iter().enumerate() {
        record_id(&format!("links[{i}]"), l)?;
    }
    if body.expires_at != 0 && body.expires_at <= body.created_at {
        return Err(err(
            "expires_at",
            "must be after created_at (or 0 for none)",
        ));
    }
    use pb::record_body::Payload as P;
    match &body.payload {
        None => Err(err(
            "payload",
            "missing: a record needs one of listing, entity, seizure, note, operation_*, retraction",
        )),
        Some(P::Listing(l)) => listing(l),
        Some(P::Entity(e)) => entity(e),
        Some(P::Seizure(s)) => seizure::seizure(s),
        Some(P::Note(n)) => note(n),
        Some(P::OperationProposal(p)) => operation::proposal(p),
        Some(P::OperationResponse(r)) => operation::response(r),
        Some(P::OperationUpdate(u)) => operation::update(u),
        Some(P::Retraction(r)) => {
            record_id("retraction.target", &r.target)?;
            if r.reason.trim().is_empty() {
                return Err(err(
                    "retraction.reason",
                    "required: say why the record is withdrawn",
                ));
            }
            text("retraction.reason", &r.reason)
        }
    }
}

/// The handling rules (TLP × scope × code), one list kept whole (over 60
/// lines on purpose).
fn validate_handling(h: Option<&pb::Handling>) -> V {
    let h = h.ok_or_else(|| err("handling", "missing: every record needs TLP and scope"))?;
    let tlp = pb::Tlp::try_from(h.tlp).unwrap_or(pb::Tlp::Unspecified);
    if tlp == pb::Tlp::Unspecified {
        return Err(err(
            "handling.tlp",
            "must be clear, green, amber, amber-strict or red",
        ));
    }
    let scope = pb::Scope::try_from(h.scope).unwrap_or(pb::Scope::Unspecified);
    match scope {
        pb::Scope::Unspecified => {
            return Err(err(
                "handling.scope",
                "must be local, agencies, groups or federation",
            ));
        }
        pb::Scope::Agencies => {
            if h.agencies.is_empty() {
                return Err(err(
                    "handling.agencies",
                    "scope agencies needs at least one agency id",
                ));
            }
        }
        pb::Scope::Groups => {
            if h.groups.is_empty() {
                return Err(err(
                    "handling.groups",
                    "scope groups needs at least one group name",
                ));
            }
        }
        pb::Scope::Local | pb::Scope::Federation => {}
    }
    if scope != pb::Scope::Agencies && !h.agencies.is_empty() {
        return Err(err("handling.agencies", "only allowed with scope agencies"));
    }
    if scope != pb::Scope::Groups && !h.groups.is_empty() {
        return Err(err("handling.groups", "only allowed with scope groups"));
    }
    if tlp == pb::Tlp::Red && scope != pb::Scope::Agencies {
        return Err(err(
            "handling.scope",
            "TLP:RED requires scope agencies (name who may hold it)",
        ));
    }
    items("handling.agencies", &h.agencies, MAX_ITEMS)?;
    for (i, a) in h.agencies.iter().enumerate() {
        a.parse::<AgencyId>()
            .map_err(|e| err(format!("handling.agencies[{i}]"), e.to_string()))?;
    }
    items("handling.groups", &h.groups, MAX_ITEMS)?;
    for (i, g) in h.groups.iter().enumerate() {
        group_name(&format!("handling.groups[{i}]"), g)?;
    }
    let code = pb::HandlingCode::try_from(h.code).unwrap_or(pb::HandlingCode::Unspecified);
    if code == pb::HandlingCode::Unspecified {
        return Err(err("handling.code", "must be H0, H1, H2 or H3"));
    }
    if code == pb::HandlingCode::H3 && h.restrictions.trim().is_empty() {
        return Err(err(
            "handling.restrictions",
            "handling code H3 needs the restrictions in text",
        ));
    }
    text("handling.restrictions", &h.restrictions)?;
    if pb::SourceEvaluation::try_from(h.source).is_err() {
        return Err(err("handling.source", "must be A, B, C or X"));
    }
    if pb::InformationEvaluation::try_from(h.information).is_err() {
        return Err(err("handling.information", "must be 1, 2, 3 or 4"));
    }
    Ok(())
}

/// A manifest group name: 1–64 of `A-Za-z0-9_-`.
pub fn group_name(field: &str, g: &str) -> V {
    let ok = !g.is_empty()
        && g.len() <= 64
        && g.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(err(
            field,
            format!("group name {g:?} must be 1-64 of A-Z a-z 0-9 - _"),
        ))
    }
}

fn listing(l: &pb::Listing) -> V {
    short("listing.platform", &l.platform, true)?;
    if l.url.is_empty() && l.title.is_empty() {
        return Err(err("listing", "needs a url or a title"));
    }
    if !l.url.is_empty() {
        let u = url::Url::parse(&l.url)
            .map_err(|e| err("listing.url", format!("{:?} is not a URL: {e}", l.url)))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(err("listing.url", "must be an http:// or https:// URL"));
        }
    }
    short("listing.title", &l.title, false)?;
    text("listing.text", &l.text)?;
    short("listing.seller_handle", &l.seller_handle, false)?;
    short("listing.seller_profile", &l.seller_profile, false)?;
    if let Some(p) = &l.price {
        if p.amount_minor < 0 {
            return Err(err("listing.price.amount_minor", "must not be negative"));
        }
        currency("listing.price.currency", &p.currency)?;
    }
    enum_set::<pb::ItemType>("listing.item_type", l.item_type)?;
    if let Some(s) = &l.species {
        species("listing.species", s)?;
    }
    if !l.country.is_empty() {
        country("listing.country", &l.country)?;
    }
    if l.observed_at < 0 {
        return Err(err("listing.observed_at", "must not be negative"));
    }
    items("listing.evidence", &l.evidence, MAX_ITEMS)?;
    for (i, e) in l.evidence.iter().enumerate() {
        let f = format!("listing.evidence[{i}]");
        if e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err(format!("{f}.sha256"), "must be 64 hex characters"));
        }
        short(&format!("{f}.media_type"), &e.media_type, false)?;
        text(&format!("{f}.note"), &e.note)?;
    }
    selectors("listing.selectors", &l.selectors)
}

fn entity(e: &pb::Entity) -> V {
    if e.entity_type == 0 || pb::EntityType::try_from(e.entity_type).is_err() {
        return Err(err(
            "entity.entity_type",
            "must be person, organisation, online_account, phone, vehicle or vessel",
        ));
    }
    if e.names.is_empty() && e.selectors.is_empty() {
        return Err(err("entity", "needs at least one name or selector"));
    }
    items("entity.names", &e.names, MAX_ITEMS)?;
    for (i, n) in e.names.iter().enumerate() {
        short(&format!("entity.names[{i}]"), n, true)?;
    }
    items("entity.nationalities", &e.nationalities, MAX_ITEMS)?;
    for (i, c) in e.nationalities.iter().enumerate() {
        country(&format!("entity.nationalities[{i}]"), c)?;
    }
    text("entity.description", &e.description)?;
    selectors("entity.selectors", &e.selectors)
}

fn note(n: &pb::Note) -> V {
    short("note.title", &n.title, false)?;
    if n.text.trim().is_empty() {
        return Err(err("note.text", "required"));
    }
    selectors("note.selectors", &n.selectors)?;
    text("note.text", &n.text)
}

fn selectors(field: &str, sels: &[pb::Selector]) -> V {
    items(field, sels, MAX_ITEMS)?;
    // The shape only: the normal form is the author's normaliser's, and
    // this node correlates by its own key (see `selector`).
    for (i, s) in sels.iter().enumerate() {
        selector::check_shape(s).map_err(|p| err(format!("{field}[{i}]"), p))?;
    }
    Ok(())
}

fn species(field: &str, s: &pb::Species) -> V {
    short(
        &format!("{field}.scientific_name"),
        &s.scientific_name,
        true,
    )?;
    short(&format!("{field}.common_name"), &s.common_name, false)?;
    enum_set::<pb::CitesAppendix>(&format!("{field}.cites_appendix"), s.cites_appendix)
}

fn enum_set<E: TryFrom<i32>>(field: &str, v: i32) -> V {
    E::try_from(v)
        .map(|_| ())
        .map_err(|_| err(field, format!("unknown value {v}")))
}

fn items<T>(field: &str, v: &[T], max: usize) -> V {
    if v.len() > max {
        return Err(err(
            field,
            format!("at most {max} entries, got {}", v.len()),
        ));
    }
    Ok(())
}

fn no_controls(field: &str, s: &str, allow_newlines: bool) -> V {
    let bad = s
        .chars()
        .any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\t' || c == '\r')));
    if bad {
        return Err(err(field, "contains control characters"));
    }
    Ok(())
}

fn short(field: &str, s: &str, required: bool) -> V {
    if required && s.trim().is_empty() {
        return Err(err(field, "required"));
    }
    if s.len() > MAX_SHORT {
        return Err(err(
            field,
            format!("at most {MAX_SHORT} bytes, got {}", s.len()),
        ));
    }
    no_controls(field, s, false)
}

fn text(field: &str, s: &str) -> V {
    if s.len() > MAX_TEXT {
        return Err(err(
            field,
            format!("at most {MAX_TEXT} bytes, got {}", s.len()),
        ));
    }
    no_controls(field, s, true)
}

fn record_id(field: &str, s: &str) -> V {
    s.parse::<RecordId>()
        .map(|_| ())
        .map_err(|_| err(field, format!("{s:?} is not a 64-hex record id")))?;
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(err(field, "record ids are lowercase hex"));
    }
    Ok(())
}

/// ISO 3166 alpha-2 shape: two uppercase letters.
pub fn country(field: &str, c: &str) -> V {
    if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(err(
            field,
            format!("{c:?} is not an ISO 3166 alpha-2 country code (e.g. KE)"),
        ))
    }
}

fn currency(field: &str, c: &str) -> V {
    if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(err(
            field,
            format!("{c:?} is not an ISO 4217 currency code (e.g. USD)"),
        ))
    }
}
