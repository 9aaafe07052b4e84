//! Phone numbers through libphonenumber (the `phonenumber` crate): a
//! national format is read in a region, the number must be valid, and it is
//! written in E.164.
//!
//! One thread does all of it. phonenumber's database keeps its compiled
//! regular expressions behind one mutex held for each search, so numbers
//! are checked one at a time whichever thread asks; and each regular
//! expression keeps a lazy DFA cache per thread that has used it (up to
//! nine), which the signing threads of every batch (new threads each time)
//! spread over: on 90,000 imported listings the node grew to 613 MB, 333 MB
//! without their phones. On one thread each expression has one warm cache
//! (430 MB).

use std::sync::OnceLock;
use std::sync::mpsc;

/// A number to check, and where the answer goes.
struct Job {
    text: String,
    region: Option<String>,
    answer: mpsc::SyncSender<Result<String, String>>,
}

/// The libphonenumber thread, started at first use.
fn worker() -> Option<&'static mpsc::Sender<Job>> {
    static WORKER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("wildnet-phone".into())
                .spawn(move || {
                    for job in rx {
                        let r = parse(&job.text, job.region.as_deref());
                        let _ = job.answer.send(r);
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// A valid phone number in E.164 (`+` and digits, extension dropped). A
/// national format needs `region`.
pub fn phone(v: &str, region: Option<&str>) -> Result<String, String> {
    let Some(w) = worker() else {
        return parse(v, region);
    };
    let (answer, back) = mpsc::sync_channel(1);
    let job = Job {
        text: v.to_string(),
        region: region.map(str::to_string),
        answer,
    };
    if w.send(job).is_err() {
        return parse(v, region);
    }
    // The thread only stops if it panicked: then check here.
    back.recv().unwrap_or_else(|_| parse(v, region))
}

/// Compiled regular expressions phonenumber's database keeps. Its own
/// default is 100, and validating one number touches a dozen or more, so a
/// mix of a few countries recompiled them on nearly every parse (bulk
/// import ran at less than half its speed). Enough for every region.
const PHONE_REGEXES: usize = 8192;

/// Loads libphonenumber's plan data (tens of milliseconds, once), so the
/// first publish of a phone number is not the one that pays for it.
pub fn warm_up() {
    let _ = phone("+254712345678", None);
}

fn phone_database() -> &'static phonenumber::metadata::Database {
    static ENLARGED: std::sync::Once = std::sync::Once::new();
    let db = &*phonenumber::metadata::DATABASE;
    ENLARGED.call_once(|| {
        if let Ok(mut c) = db.cache().lock() {
            *c = regex_cache::RegexCache::new(PHONE_REGEXES);
        }
    });
    db
}

/// The work of [`phone`], on the calling thread.
fn parse(v: &str, region: Option<&str>) -> Result<String, String> {
    let region = region.and_then(|r| r.trim().to_ascii_uppercase().parse().ok());
    // `00` is the international prefix nearly everywhere (read as `+`).
    let plus;
    let v = match v.strip_prefix("00") {
        Some(rest) => {
            plus = format!("+{rest}");
            plus.as_str()
        }
        None => v,
    };
    let international = v.starts_with('+');
    // Letters are a typo here, not a vanity number; an extension may follow.
    let lower = v.to_ascii_lowercase();
    let main = lower.split("ext").next().unwrap_or_default();
    let main = main.split(['x', '#']).next().unwrap_or_default();
    if main.chars().any(char::is_alphabetic) {
        return Err(format!("phone {v:?} is not a number: it has letters"));
    }
    if region.is_none() && !international {
        return Err(format!(
            "phone {v:?} is in national format: write it with + and the country code, \
             or give the record a country"
        ));
    }
    let db = phone_database();
    // An international number is read without the default region first:
    // phonenumber 0.3 applies the region's national-prefix rule to it
    // (under CN, +44 113 496 0470 became +44 60470). The region is tried
    // after, for a trunk `0` kept after the country code (+254 0712…).
    let n = match region.filter(|_| international) {
        Some(r) => match phonenumber::parse_with(db, None, v) {
            Ok(n) if phonenumber::is_valid_with(db, &n) => n,
            _ => phonenumber::parse_with(db, Some(r), v)
                .map_err(|e| format!("phone {v:?} is not a number: {e}"))?,
        },
        None => phonenumber::parse_with(db, region, v)
            .map_err(|e| format!("phone {v:?} is not a number: {e}"))?,
    };
    if !phonenumber::is_valid_with(db, &n) {
        return Err(format!(
            "phone {v:?} is not a valid number of its country ({}): check the digits",
            n.country()
                .id()
                .map(|c| c.as_ref().to_string())
                .unwrap_or_else(|| format!("+{}", n.code().value()))
        ));
    }
    Ok(n.format().mode(phonenumber::Mode::E164).to_string())
}
