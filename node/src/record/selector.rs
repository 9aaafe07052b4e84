//! Selectors: the identifiers that link records (phone, e-mail, platform
//! handle, URL, crypto wallet, IMO ship number, vehicle plate), their
//! normal forms, and the **correlation key** a node indexes them by.
//!
//! Phone numbers go through `phonenumber` (libphonenumber's metadata): a
//! national format is read with a default region (the record's country,
//! else the author agency's), the number must be valid, and it is kept in
//! E.164. URLs go through `url` (WHATWG): IDNA to punycode, default port
//! and fragment dropped, tracking parameters dropped, the other query
//! pairs sorted. Wallets are per chain: bech32 checked and lower-cased,
//! EIP-55 checked, base58check checked.
//!
//! The author's node normalises a draft before signing, and the signed
//! value is never re-encoded. A storing node computes its own correlation
//! key from the signed value with [`NORMALISER`]: a peer that ran an older
//! normaliser still correlates, and a node whose normaliser changes
//! re-indexes its records in the background (see `storage`). Pure.

use wildnet_proto::v1 as pb;

/// The version of the normaliser that computes correlation keys. 1 was
/// the hand-written rules (E.164 only, URL host lower-cased); 2 is the
/// libraries' (national phone formats, WHATWG URLs, tracking parameters
/// dropped, wallets per chain, plates); 3 reads an international phone
/// number without the default region first (under some regions,
/// phonenumber 0.3 misread it). A change of what any normal form is must
/// bump it: stored indexes are rebuilt when it changes.
pub const NORMALISER: u8 = 3;

/// The selector kind names used in `kind:value` text.
pub const KINDS: [(&str, pb::SelectorKind); 7] = [
    ("phone", pb::SelectorKind::Phone),
    ("email", pb::SelectorKind::Email),
    ("handle", pb::SelectorKind::Handle),
    ("url", pb::SelectorKind::Url),
    ("wallet", pb::SelectorKind::Wallet),
    ("imo", pb::SelectorKind::Imo),
    ("plate", pb::SelectorKind::Plate),
];

/// What `kind:value` text may start with, for error messages.
const KIND_LIST: &str = "phone, email, handle, url, wallet, imo or plate";

/// Longest selector value kept (an URL can be long; nothing else is).
pub const MAX_VALUE: usize = 2048;

/// The text name of a selector kind.
pub fn kind_name(kind: i32) -> &'static str {
    KINDS
        .iter()
        .find(|(_, k)| *k as i32 == kind)
        .map(|(n, _)| *n)
        .unwrap_or("unknown")
}

/// The kind named `name` (any case).
pub fn kind_named(name: &str) -> Result<pb::SelectorKind, String> {
    KINDS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, k)| *k)
        .ok_or_else(|| format!("unknown selector kind {name:?}: use {KIND_LIST}"))
}

/// Parses `kind:value` (e.g. `phone:0712 345678`) into a normalised
/// selector; `region` reads national phone formats.
pub fn parse(text: &str, region: Option<&str>) -> Result<pb::Selector, String> {
    let (kind, value) = text
        .split_once(':')
        .ok_or_else(|| format!("selector {text:?} must be kind:value, kind one of {KIND_LIST}"))?;
    let kind = kind_named(kind)? as i32;
    Ok(pb::Selector {
        kind,
        value: normalise(kind, value, region)?,
    })
}

/// The display and index text of a selector: `kind:value`.
pub fn text(s: &pb::Selector) -> String {
    format!("{}:{}", kind_name(s.kind), s.value)
}

/// Normalises a selector value of the given kind, or says why it is
/// invalid. `region` (ISO 3166 alpha-2) reads national phone formats.
pub fn normalise(kind: i32, value: &str, region: Option<&str>) -> Result<String, String> {
    let v = value.trim();
    if v.len() > MAX_VALUE {
        return Err(format!(
            "selector value is {} bytes, over {MAX_VALUE}",
            v.len()
        ));
    }
    let normal = match pb::SelectorKind::try_from(kind).unwrap_or(pb::SelectorKind::Unspecified) {
        pb::SelectorKind::Unspecified => Err(format!("selector kind is missing: use {KIND_LIST}")),
        pb::SelectorKind::Phone => phone(v, region),
        pb::SelectorKind::Email => email(v),
        pb::SelectorKind::Handle => handle(v),
        pb::SelectorKind::Url => url(v),
        pb::SelectorKind::Wallet => wallet(v),
        pb::SelectorKind::Imo => imo(v),
        pb::SelectorKind::Plate => plate(v),
    }?;
    // Percent-encoding can lengthen a URL past the limit: such a normal
    // form could not be normalised (or stored) again, so it is refused
    // here (found by fuzzing: fuzz/regressions/selector/).
    if normal.len() > MAX_VALUE {
        return Err(format!(
            "selector value is {} bytes in its normal form, over {MAX_VALUE}",
            normal.len()
        ));
    }
    Ok(normal)
}

/// The correlation key of a stored selector: `kind:value` in this node's
/// normal form, or `None` when this normaliser cannot read the value (it
/// then links nothing, and the record is kept as signed).
pub fn correlation_key(s: &pb::Selector, region: Option<&str>) -> Option<String> {
    // Fast path: an E.164 number is its own normal form (normalising it
    // again is idempotent), so the index skips libphonenumber's parse.
    if s.kind == pb::SelectorKind::Phone as i32 && is_e164(&s.value) {
        return Some(format!("phone:{}", s.value));
    }
    let value = normalise(s.kind, &s.value, region).ok()?;
    Some(format!("{}:{value}", kind_name(s.kind)))
}

/// What a stored selector must look like whatever normaliser wrote it: a
/// known kind and a bounded value without spaces or control characters.
/// (Normal form is the author's business; see the module doc.)
pub fn check_shape(s: &pb::Selector) -> Result<(), String> {
    if kind_name(s.kind) == "unknown" {
        return Err(format!("selector kind {} is unknown", s.kind));
    }
    let v = &s.value;
    if v.is_empty() || v.len() > MAX_VALUE {
        return Err(format!(
            "selector value must be 1-{MAX_VALUE} bytes, not {}",
            v.len()
        ));
    }
    if v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "selector value {v:?} contains spaces or control characters"
        ));
    }
    Ok(())
}

/// The region national phone formats of a record are read in: its own
/// country, else the author agency's (the two letters its id starts with).
pub fn region_of(body: &pb::RecordBody) -> Option<String> {
    use pb::record_body::Payload as P;
    let own = match &body.payload {
        Some(P::Listing(l)) => l.country.as_str(),
        Some(P::Seizure(s)) => s.country.as_str(),
        _ => "",
    };
    let author = body.author.split('-').next().unwrap_or_default();
    [own.trim(), author]
        .into_iter()
        .find(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase)
}

/// `+`, a country code and 7-15 digits in all, no leading 0: the shape
/// [`phone`] writes.
fn is_e164(v: &str) -> bool {
    v.strip_prefix('+').is_some_and(|d| {
        (7..=15).contains(&d.len()) && !d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit())
    })
}

/// `local@domain`: the local part lower-cased, the domain lower-cased and
/// in punycode (IDNA); the domain needs a dot.
pub fn email(v: &str) -> Result<String, String> {
    let bad = || format!("e-mail {v:?} is not local@domain.tld");
    let (local, domain) = v
        .rsplit_once('@')
        .ok_or_else(|| format!("e-mail {v:?} has no @"))?;
    if local.is_empty() || local.contains('@') || v.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    let domain = match url::Host::parse(domain) {
        Ok(url::Host::Domain(d)) => d,
        _ => return Err(bad()),
    };
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(bad());
    }
    let out = format!("{}@{domain}", local.to_lowercase());
    if out.len() > 254 {
        return Err(format!("e-mail {v:?} is longer than 254 characters"));
    }
    Ok(out)
}

/// Platform names an analyst may type for the same platform.
const PLATFORM_ALIASES: [(&str, &str); 8] = [
    ("fb", "facebook"),
    ("ig", "instagram"),
    ("insta", "instagram"),
    ("twitter", "x"),
    ("tw", "x"),
    ("wa", "whatsapp"),
    ("tg", "telegram"),
    ("yt", "youtube"),
];

/// `platform:handle`, lower-cased, the handle without a leading `@`, the
/// platform's usual name (`fb` is `facebook`).
pub fn handle(v: &str) -> Result<String, String> {
    let (platform, h) = v.split_once(':').ok_or_else(|| {
        format!("handle {v:?} must be platform:handle, e.g. facebook:ivory.trader")
    })?;
    handle_of(platform, h)
}

/// The handle selector for a seller on a platform.
pub fn handle_of(platform: &str, h: &str) -> Result<String, String> {
    let p = platform.trim().to_lowercase();
    let p = PLATFORM_ALIASES
        .iter()
        .find(|(a, _)| *a == p)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or(p);
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

/// Query parameters that track the visitor, not the page.
fn tracking(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with("utm_")
        || matches!(
            k.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "gbraid"
                | "wbraid"
                | "msclkid"
                | "igshid"
                | "yclid"
                | "mc_cid"
                | "mc_eid"
                | "_ga"
                | "_gl"
                | "ttclid"
                | "twclid"
        )
}

/// An http(s) URL in WHATWG form: host lower-cased and in punycode,
/// default port, credentials, fragment and tracking parameters dropped,
/// the remaining query pairs sorted, no trailing `/`.
pub fn url(v: &str) -> Result<String, String> {
    let mut u = url::Url::parse(v).map_err(|e| format!("url {v:?} is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("url {v:?} must start with http:// or https://"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("url {v:?} has no host"));
    }
    u.set_fragment(None);
    // Cannot fail for http(s) URLs with a host.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    let mut pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| !tracking(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let path = u.path().trim_end_matches('/').to_string();
    if path != u.path() {
        u.set_path(&path);
    }
    let mut s = u.to_string();
    if u.query().is_none() && s.ends_with('/') {
        s.pop();
    }
    Ok(s)
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

/// A vehicle plate with the country that issued it: `CC/PLATE`, both
/// upper-cased, spaces, dashes and dots dropped; 2-12 letters and digits.
pub fn plate(v: &str) -> Result<String, String> {
    let (cc, p) = v
        .split_once('/')
        .ok_or_else(|| format!("plate {v:?} must be COUNTRY/PLATE, e.g. KE/KDA 123A"))?;
    let cc = cc.trim().to_ascii_uppercase();
    if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "plate {v:?}: the country must be ISO 3166 alpha-2, e.g. KE"
        ));
    }
    let p: String = p
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '·'))
        .flat_map(char::to_uppercase)
        .collect();
    if !(2..=12).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "plate {v:?}: the plate must be 2-12 letters and digits"
        ));
    }
    Ok(format!("{cc}/{p}"))
}

mod phone;
mod wallet;
pub use phone::{phone, warm_up};
pub use wallet::wallet;

#[cfg(test)]
mod tests;
