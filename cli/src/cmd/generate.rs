//! `wildnet generate listings`: realistic synthetic listings as CSV, for
//! demos, tests and measurements. Deterministic for a given seed.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::draft::CSV_COLUMNS;

/// Flags of `wildnet generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to generate
    #[command(subcommand)]
    pub what: GenerateWhat,
}

/// Generators.
#[derive(Debug, Subcommand)]
pub enum GenerateWhat {
    /// Online listings as import CSV on stdout
    Listings {
        /// How many rows
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// Seed: the same seed gives the same rows
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// A small deterministic generator (SplitMix64): no crate needed for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const SPECIES: [(&str, &str, &str); 12] = [
    ("Manis javanica", "pangolin scales", "part"),
    ("Manis pentadactyla", "pangolin scales", "part"),
    ("Loxodonta africana", "ivory carving", "product"),
    ("Diceros bicornis", "rhino horn powder", "part"),
    ("Panthera tigris", "tiger skin", "part"),
    ("Psittacus erithacus", "african grey parrot chicks", "live"),
    ("Astrochelys radiata", "radiated tortoise", "live"),
    ("Totoaba macdonaldi", "totoaba maw", "part"),
    (
        "Dalbergia cochinchinensis",
        "siamese rosewood logs",
        "product",
    ),
    ("Gekko gecko", "dried tokay gecko", "dead"),
    ("Pongo pygmaeus", "baby orangutan", "live"),
    ("Nycticebus coucang", "slow loris pet", "live"),
];
const PLATFORMS: [&str; 8] = [
    "facebook",
    "olx",
    "jiji",
    "instagram",
    "telegram",
    "shopee",
    "ebay",
    "wechat",
];
/// Country, currency, a mobile prefix and how many digits follow it in a
/// valid number of that country's plan.
const COUNTRIES: [(&str, &str, &str, u32); 8] = [
    ("KE", "KES", "+2547", 8),
    ("ZA", "ZAR", "+2782", 7),
    ("GB", "GBP", "+44740", 7),
    ("VN", "VND", "+8490", 7),
    ("TH", "THB", "+6681", 7),
    ("NG", "NGN", "+234803", 7),
    ("CN", "CNY", "+86138", 8),
    ("ID", "IDR", "+62812", 8),
];
const WORDS: [&str; 10] = [
    "genuine",
    "rare",
    "fast",
    "discreet",
    "shipping",
    "wholesale",
    "fresh",
    "certified",
    "bulk",
    "offer",
];

/// Runs `generate`.
pub fn run(a: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let GenerateWhat::Listings { count, seed } = &a.what;
    let out = std::io::stdout();
    write_listings(std::io::BufWriter::new(out.lock()), *count, *seed, None)?;
    std::io::stdout().flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A valid number: `prefix` and `digits` random digits.
fn phone_number(rng: &mut Rng, prefix: &str, digits: u32) -> String {
    let tail = rng.next() % 10u64.pow(digits);
    format!("{prefix}{tail:0width$}", width = digits as usize)
}

/// Writes `count` listings as import CSV; `share` overrides the random
/// sharing of each row (e.g. `agency:ZA-DFFE`).
pub fn write_listings(
    out: impl Write,
    count: u64,
    seed: u64,
    share: Option<&str>,
) -> anyhow::Result<()> {
    let mut rng = Rng(seed);
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS)?;
    let base = 1_767_225_600_000i64; // 2026-01-01
    for i in 0..count {
        let (sp, what, item) = SPECIES[(rng.next() % SPECIES.len() as u64) as usize];
        let (country, currency, phone, digits) =
            COUNTRIES[(rng.next() % COUNTRIES.len() as u64) as usize];
        let platform = rng.pick(&PLATFORMS);
        let seller = format!(
            "{}_{}",
            rng.pick(&["wild", "exotic", "nature", "rare", "asia", "africa"]),
            rng.next() % 5000
        );
        let price = 10 + rng.next() % 5000;
        let observed = base + (rng.next() % (300 * 86_400_000)) as i64;
        let day = chrono::DateTime::from_timestamp_millis(observed)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let text = format!(
            "{} {} {} {what}",
            rng.pick(&WORDS),
            rng.pick(&WORDS),
            rng.pick(&WORDS)
        );
        let phone = phone_number(&mut rng, phone, digits);
        let tlp = rng.pick(&["green", "amber", "amber", "amber-strict"]);
        let random = rng.pick(&["local", "federation", "federation"]);
        let share = share.unwrap_or(random);
        let quantity = 1 + rng.next() % 50;
        w.write_record([
            sp,
            platform,
            &format!("https://{platform}.example/listing/{seed}-{i}"),
            &format!("{what} for sale"),
            &text,
            &seller,
            &format!("https://{platform}.example/u/{seller}"),
            &price.to_string(),
            currency,
            &quantity.to_string(),
            item,
            country,
            &day,
            tlp,
            share,
            "h0",
            &format!("generated;{}", what.split(' ').next().unwrap_or("wildlife")),
            &format!("phone:{phone}"),
            "",
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every generated phone is a valid number of its country, so a
    /// generated file imports whole.
    #[test]
    fn generated_phones_are_valid_numbers() {
        let mut rng = Rng(11);
        for (country, _, prefix, digits) in COUNTRIES {
            for _ in 0..3000 {
                let phone = format!("phone:{}", phone_number(&mut rng, prefix, digits));
                let parsed = wildnet_node::record::selector::parse(&phone, None);
                assert!(parsed.is_ok(), "{country}: {parsed:?}");
            }
        }
        let mut out = Vec::new();
        write_listings(&mut out, 400, 7, None).expect("generate");
        let mut rdr = csv::Reader::from_reader(out.as_slice());
        let headers = rdr.headers().expect("headers").clone();
        let col = headers.iter().position(|h| h == "selectors").expect("col");
        for row in rdr.records() {
            let row = row.expect("row");
            let sel = row.get(col).expect("cell");
            wildnet_node::record::selector::parse(sel, None).expect("a valid phone");
        }
    }
}
