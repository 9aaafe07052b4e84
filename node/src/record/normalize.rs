//! Normal forms: selectors (phone in E.164, lowercased e-mail, handles as
//! `platform:handle`, canonical URLs, wallets, IMO numbers) and the draft
//! clean-up the node does before signing. Pure functions.

use wildnet_proto::v1 as pb;

use crate::species::SpeciesTable;

/// The selector kind names used in `kind:value` text.
pub const SELECTOR_KINDS: [(&str, pb::SelectorKind); 6] = [
    ("phone", pb::SelectorKind::Phone),
    ("email", pb::SelectorKind::Email),
    ("handle", pb::SelectorKind::Handle),
    ("url", pb::SelectorKind::Url),
    ("wallet", pb::SelectorKind::Wallet),
    ("imo", pb::SelectorKind::Imo),
];

/// The text name of a selector kind.
pub fn selector_kind_name(kind: i32) -> &'static str {
    SELECTOR_KINDS
        .iter()
        .find(|(_, k)| *k as i32 == kind)
        .map(|(n, _)| *n)
        .unwrap_or("unknown")
}

/// Parses `kind:value` (e.g. `phone:+254 712 345678`) into a normalised
/// selector.
pub fn parse_selector(text: &str) -> Result<pb::Selector, String> {
    let (kind, value) = text.split_once(':').ok_or_else(|| {
        format!("selector {text:?} must be kind:value, kind one of phone, email, handle, url, wallet, imo")
    })?;
    let kind = SELECTOR_KINDS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(kind.trim()))
        .map(|(_, k)| *k as i32)
        .ok_or_else(|| {
            format!("unknown selector kind {kind:?}: use phone, email, handle, url, wallet or imo")
        })?;
    Ok(pb::Selector {
        kind,
        value: selector(kind, value)?,
    })
}

/// The index/query text of a normalised selector: `kind:value`.
pub fn selector_text(s: &pb::Selector) -> String {
    format!("{}:{}", selector_kind_name(s.kind), s.value)
}

/// Normalises a selector value of the given kind, or says why it is invalid.
pub fn selector(kind: i32, value: &str) -> Result<String, String> {
    let v = value.trim();
    match pb::SelectorKind::try_from(kind).unwrap_or(pb::SelectorKind::Unspecified) {
        pb::SelectorKind::Unspecified => Err("selector kind is missing".into()),
        pb::SelectorKind::Phone => phone(v),
        pb::SelectorKind::Email => email(v),
        pb::SelectorKind::Handle => handle(v),
        pb::SelectorKind::Url => url(v),
        pb::SelectorKind::Wallet => wallet(v),
        pb::SelectorKind::Imo => imo(v),
    }
}

/// E.164: `+` then 8–15 digits; spaces, dashes, dots, brackets dropped; a
/// leading `00` read as `+`.
pub fn phone(v: &str) -> Result<String, String> {
    let compact: String = v
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/'))
        .collect();
    let digits = if let Some(rest) = compact.strip_prefix('+') {
        rest
    } else if let Some(rest) = compact.strip_prefix("00") {
        rest
    } else {
        return Err(format!(
            "phone {v:?} must be international: start with + and the country code (E.164)"
        ));
    };
    if !(8..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return Err(format!(
            "phone {v:?} is not E.164: + then 8-15 digits, no leading 0"
        ));
    }
    Ok(format!("+{digits}"))
}

/// Lowercased `local@domain` with a dotted domain.
pub fn email(v: &str) -> Result<String, String> {
    let lower = v.to_lowercase();
    let (local, domain) = lower
        .split_once('@')
        .ok_or_else(|| format!("e-mail {v:?} has no @"))?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !lower.chars().any(char::is_whitespace)
        && !domain.contains('@');
    if !ok || lower.len() > 254 {
        return Err(format!("e-mail {v:?} is not local@domain.tld"));
    }
    Ok(lower)
}

/// `platform:handle`, lowercased, the handle without a leading `@`.
pub fn handle(v: &str) -> Result<String, String> {
    let (platform, h) = v.split_once(':').ok_or_else(|| {
        format!("handle {v:?} must be platform:handle, e.g. facebook:ivory.trader")
    })?;
    handle_of(platform, h)
}

/// The handle selector for a seller on a platform.
pub fn handle_of(platform: &str, h: &str) -> Result<String, String> {
    let p = platform.trim().to_lowercase();
    let h = h.trim().trim_start_matches('@').to_lowercase();
    if p.is_empty()
        || h.is_empty()
        || p.contains(char::is_whitespace)
        || h.contains(char::is_whitespace)
    {
        return Err(format!(
            "handle {platform}:{h} needs a platform and a handle without spaces"
        ));
    }
    Ok(format!("{p}:{h}"))
}

/// An http(s) URL with lowercase scheme and host, no fragment, no trailing
/// slash on the path.
pub fn url(v: &str) -> Result<String, String> {
    let v = v.trim();
    let (scheme, rest) = v
        .split_once("://")
        .ok_or_else(|| format!("url {v:?} must start with http:// or https://"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("url {v:?} must start with http:// or https://"));
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let (host, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() || host.contains(char::is_whitespace) || path.contains(char::is_whitespace) {
        return Err(format!("url {v:?} has no host or contains spaces"));
    }
    let mut path = path.to_string();
    while path.ends_with('/') {
        path.pop();
    }
    Ok(format!("{scheme}://{}{path}", host.to_ascii_lowercase()))
}

/// A crypto wallet address: 20–128 alphanumerics; `0x` addresses lowercased.
pub fn wallet(v: &str) -> Result<String, String> {
    let ok = (20..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err(format!("wallet {v:?} must be 20-128 letters and digits"));
    }
    if v.starts_with("0x") || v.starts_with("0X") {
        return Ok(v.to_ascii_lowercase());
    }
    Ok(v.to_string())
}

/// IMO ship number: 7 digits with a valid check digit, `IMO` prefix dropped.
pub fn imo(v: &str) -> Result<String, String> {
    let digits: String = v
        .trim_start_matches(|c: char| c.is_ascii_alphabetic() || c.is_whitespace())
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if digits.len() != 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("IMO number {v:?} must be 7 digits"));
    }
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    let sum: u32 = (0..6).map(|i| d[i] * (7 - i as u32)).sum();
    if sum % 10 != d[6] {
        return Err(format!("IMO number {v:?} fails its check digit"));
    }
    Ok(digits)
}

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
    payload(body.payload.as_mut(), species)
}

fn fail(field: &str, problem: String) -> super::ValidationError {
    super::ValidationError {
        field: field.to_string(),
        problem,
    }
}

/// Normalises each selector, then sorts and deduplicates them.
fn selectors(field: &str, sels: &mut Vec<pb::Selector>) -> Result<(), super::ValidationError> {
    for (i, s) in sels.iter_mut().enumerate() {
        s.value = selector(s.kind, &s.value).map_err(|p| fail(&format!("{field}[{i}]"), p))?;
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
) -> Result<(), super::ValidationError> {
    use pb::record_body::Payload as P;
    match p {
        Some(P::Listing(l)) => {
            l.platform = l.platform.trim().to_lowercase();
            l.country = l.country.trim().to_uppercase();
            l.seller_handle = l.seller_handle.trim().trim_start_matches('@').to_string();
            if !l.url.is_empty() {
                l.url = url(&l.url).map_err(|p| fail("listing.url", p))?;
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
            selectors("listing.selectors", &mut l.selectors)?;
        }
        Some(P::Entity(e)) => {
            upper_all(&mut e.nationalities);
            selectors("entity.selectors", &mut e.selectors)?;
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
        }
        Some(P::OperationProposal(p)) => {
            upper_all(&mut p.participants);
            selectors(
                "operation_proposal.target_selectors",
                &mut p.target_selectors,
            )?;
        }
        Some(P::Retraction(r)) => r.target = r.target.trim().to_lowercase(),
        Some(P::OperationResponse(r)) => r.operation = r.operation.trim().to_lowercase(),
        Some(P::OperationUpdate(u)) => u.operation = u.operation.trim().to_lowercase(),
        Some(P::Note(_)) | None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Phones normalise to E.164 and refuse national formats.
    #[test]
    fn phones() {
        assert_eq!(phone("+254 712-345 678").as_deref(), Ok("+254712345678"));
        assert_eq!(phone("00254712345678").as_deref(), Ok("+254712345678"));
        assert_eq!(phone("+44 (20) 7946.0958").as_deref(), Ok("+442079460958"));
        for bad in [
            "0712345678",
            "+12",
            "+2547123456789012",
            "+25471234567a",
            "+0123456789",
        ] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }

    /// E-mails are lowercased and need a dotted domain.
    #[test]
    fn emails() {
        assert_eq!(
            email("Trader@Example.COM").as_deref(),
            Ok("trader@example.com")
        );
        for bad in [
            "trader",
            "@example.com",
            "a@b",
            "a@.com",
            "a@b.",
            "a b@c.com",
            "a@b@c.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    /// Handles are platform:handle, lowercased, without @.
    #[test]
    fn handles() {
        assert_eq!(
            handle("Facebook:@Ivory.Trader").as_deref(),
            Ok("facebook:ivory.trader")
        );
        for bad in ["nohandle", ":x", "fb:", "fb:a b"] {
            assert!(handle(bad).is_err(), "{bad}");
        }
    }

    /// URLs get lowercase scheme and host, no fragment or trailing slash.
    #[test]
    fn urls() {
        assert_eq!(
            url("HTTPS://Shop.Example.com/Item/42/#photos").as_deref(),
            Ok("https://shop.example.com/Item/42")
        );
        assert_eq!(url("http://a.b").as_deref(), Ok("http://a.b"));
        assert_eq!(url("http://a.b/?q=1").as_deref(), Ok("http://a.b/?q=1"));
        for bad in ["ftp://a.b", "a.b/c", "https://", "https://a b.c"] {
            assert!(url(bad).is_err(), "{bad}");
        }
    }

    /// IMO numbers keep 7 digits and check the check digit.
    #[test]
    fn imo_numbers() {
        assert_eq!(imo("IMO 9074729").as_deref(), Ok("9074729"));
        assert!(imo("9074728").is_err());
        assert!(imo("123").is_err());
    }

    /// Wallets need 20+ alphanumerics; 0x addresses are lowercased.
    #[test]
    fn wallets() {
        assert_eq!(
            wallet("0xAbCdEf0123456789aBcDeF0123456789abcdef01").as_deref(),
            Ok("0xabcdef0123456789abcdef0123456789abcdef01")
        );
        assert_eq!(
            wallet("1BoatSLRHtKNngkdXEeobR76b53LETtpyT").as_deref(),
            Ok("1BoatSLRHtKNngkdXEeobR76b53LETtpyT")
        );
        assert!(wallet("short").is_err());
        assert!(wallet("has space in the middle of it ok").is_err());
    }

    /// kind:value text parses, normalises and round-trips.
    #[test]
    fn selector_text_round_trip() {
        let s = parse_selector("phone:+254 712 345678").expect("valid");
        assert_eq!(selector_text(&s), "phone:+254712345678");
        let s = parse_selector("handle:olx:@Seller").expect("valid");
        assert_eq!(selector_text(&s), "handle:olx:seller");
        assert!(parse_selector("fax:123").is_err());
        assert!(parse_selector("nocolon").is_err());
    }
}
