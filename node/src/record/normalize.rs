//! The draft clean-up the node does before signing: trimmed and
//! upper-cased codes, selectors in normal form ([`super::selector`]),
//! species filled in from the reference table. Pure functions.

use wildnet_proto::v1 as pb;

use super::selector;
use crate::species::SpeciesTable;

/// Cleans a draft before signing: trims, uppercases codes, normalises
/// selectors, and fills species names and CITES appendix from the
/// reference table. Errors name the field.
pub fn draft(
    body: &mut pb::RecordBody,
    species: &SpeciesTable,
) -> Result<(), super::ValidationError> {
    for t in &mut body.tags {
        *t = t.trim().to_lowercase();
    }
    body.tags.retain(|t| !t.is_empty());
    body.tags.sort();
    body.tags.dedup();
    for l in &mut body.links {
        *l = l.trim().to_lowercase();
    }
    body.supersedes = body.supersedes.trim().to_lowercase();
    if let Some(h) = &mut body.handling {
        for a in &mut h.agencies {
            *a = a.trim().to_uppercase();
        }
    }
    let region = selector::region_of(body);
    payload(body.payload.as_mut(), species, region.as_deref())
}

fn fail(field: &str, problem: String) -> super::ValidationError {
    super::ValidationError {
        field: field.to_string(),
        problem,
    }
}

/// Normalises each selector (national phone formats read in `region`),
/// then sorts and deduplicates them.
fn selectors(
    field: &str,
    sels: &mut Vec<pb::Selector>,
    region: Option<&str>,
) -> Result<(), super::ValidationError> {
    for (i, s) in sels.iter_mut().enumerate() {
        s.value = selector::normalise(s.kind, &s.value, region)
            .map_err(|p| fail(&format!("{field}[{i}]"), p))?;
    }
    sels.sort_by(|a, b| (a.kind, &a.value).cmp(&(b.kind, &b.value)));
    sels.dedup();
    Ok(())
}

fn upper_all(v: &mut [String]) {
    for x in v {
        *x = x.trim().to_uppercase();
    }
}

/// The payload's own fields, per kind.
fn payload(
    p: Option<&mut pb::record_body::Payload>,
    species: &SpeciesTable,
    region: Option<&str>,
) -> Result<(), super::ValidationError> {
    use pb::record_body::Payload as P;
    match p {
        Some(P::Listing(l)) => {
            l.platform = l.platform.trim().to_lowercase();
            l.country = l.country.trim().to_uppercase();
            l.seller_handle = l.seller_handle.trim().trim_start_matches('@').to_string();
            if !l.url.is_empty() {
                l.url = selector::url(&l.url).map_err(|p| fail("listing.url", p))?;
            }
            if let Some(p) = &mut l.price {
                p.currency = p.currency.trim().to_uppercase();
            }
            if let Some(s) = &mut l.species {
                species.fill(s);
            }
            for e in &mut l.evidence {
                e.sha256 = e.sha256.trim().to_lowercase();
            }
            selectors("listing.selectors", &mut l.selectors, region)?;
        }
        Some(P::Entity(e)) => {
            upper_all(&mut e.nationalities);
            selectors("entity.selectors", &mut e.selectors, region)?;
        }
        Some(P::Seizure(s)) => {
            s.country = s.country.trim().to_uppercase();
            for sp in &mut s.species {
                species.fill(sp);
            }
            if let Some(r) = &mut s.route {
                r.origin = r.origin.trim().to_uppercase();
                r.destination = r.destination.trim().to_uppercase();
                upper_all(&mut r.transit);
            }
            selectors("seizure.selectors", &mut s.selectors, region)?;
        }
        Some(P::OperationProposal(p)) => {
            upper_all(&mut p.participants);
            for t in &mut p.tasks {
                t.agency = t.agency.trim().to_uppercase();
            }
            for r in &mut p.target_records {
                *r = r.trim().to_lowercase();
            }
            selectors(
                "operation_proposal.target_selectors",
                &mut p.target_selectors,
                region,
            )?;
        }
        Some(P::Retraction(r)) => r.target = r.target.trim().to_lowercase(),
        Some(P::OperationResponse(r)) => r.operation = r.operation.trim().to_lowercase(),
        Some(P::OperationUpdate(u)) => {
            u.operation = u.operation.trim().to_lowercase();
            upper_all(&mut u.add_participants);
            for s in &mut u.seizures {
                *s = s.trim().to_lowercase();
            }
        }
        Some(P::Note(n)) => selectors("note.selectors", &mut n.selectors, region)?,
        None => {}
    }
    Ok(())
}
