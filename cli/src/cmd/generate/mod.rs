//! `wildnet generate listings|seizures|entities`: a synthetic but realistic
//! wildlife market for demos, tests and measurements. Listings vary by
//! product, species, country, platform, code word and price; seizures have
//! routes, concealment, quantities, units and the report fields; entities
//! are the cross-border sellers. Deterministic for a seed; see `world` for
//! the planted overlaps, the decoys and the reserved values.

mod catalog;
mod seizures;
mod world;

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::draft::CSV_COLUMNS;
use catalog::{COUNTRIES, Country, PRODUCTS, Product};
pub use world::{DECOY_COURIER, DECOY_NOREPLY};
use world::{Rng, Seller, World};

/// Flags of `wildnet generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to generate
    #[command(subcommand)]
    pub what: GenerateWhat,
}

/// What a generator makes, shared by every kind.
#[derive(Debug, Clone, Args)]
pub struct Spec {
    /// How many records
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// Seed of the rows: the same seed gives the same rows
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seed of the world (its sellers): files generated with different
    /// --seed and the same --world share sellers, so agencies overlap
    #[arg(long, default_value_t = 1)]
    pub world: u64,
    /// Mostly this country's market (ISO 3166: KE, ZA, GB, VN, TH, NG,
    /// CN, ID) [default: all]
    #[arg(long)]
    pub country: Option<String>,
}

/// Generators.
#[derive(Debug, Subcommand)]
pub enum GenerateWhat {
    /// Online listings as import CSV on stdout
    Listings(Spec),
    /// Seizures as import JSONL on stdout
    Seizures(Spec),
    /// The cross-border sellers as entity drafts (JSONL) on stdout
    Entities(Spec),
}

/// Runs `generate`.
pub fn run(a: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let (GenerateWhat::Listings(s) | GenerateWhat::Seizures(s) | GenerateWhat::Entities(s)) =
        &a.what;
    // A bad --country is refused before anything is written.
    focus(s.country.as_deref())?;
    let out = std::io::stdout();
    let w = std::io::BufWriter::new(out.lock());
    match &a.what {
        GenerateWhat::Listings(s) => listings(w, s, None)?,
        GenerateWhat::Seizures(s) => seizures::write(w, s, &world_of(s))?,
        GenerateWhat::Entities(s) => seizures::entities(w, &world_of(s))?,
    }
    std::io::stdout().flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Sellers: one per eight listings, a twentieth of them cross-border.
fn world_of(s: &Spec) -> World {
    let sellers = (s.count / 8).clamp(40, 50_000) as usize;
    World::new(s.world, sellers, (sellers / 20).max(4))
}

/// The market `--country` names, if any; an unknown one is refused.
fn focus(code: Option<&str>) -> anyhow::Result<Option<&'static Country>> {
    code.map(|code| {
        catalog::country(&code.to_uppercase()).ok_or_else(|| {
            anyhow::anyhow!(
                "--country {code:?}: the generator knows {}",
                COUNTRIES.map(|c| c.code).join(", ")
            )
        })
    })
    .transpose()
}

/// The focus, or a random market.
fn country_for(rng: &mut Rng, focus: Option<&'static Country>) -> &'static Country {
    focus.unwrap_or_else(|| rng.pick(&COUNTRIES))
}

/// Writes `count` listings as import CSV; `share` overrides the random
/// sharing of each row (e.g. `agency:ZA-DFFE`). World 1, every country.
pub fn write_listings(
    out: impl Write,
    count: u64,
    seed: u64,
    share: Option<&str>,
) -> anyhow::Result<()> {
    let spec = Spec {
        count,
        seed,
        world: 1,
        country: None,
    };
    listings(out, &spec, share)
}

/// Writes the listings of `spec` as import CSV.
pub fn listings(out: impl Write, spec: &Spec, share: Option<&str>) -> anyhow::Result<()> {
    let world = world_of(spec);
    let mut rng = Rng(spec.seed);
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS)?;
    let focus = focus(spec.country.as_deref())?;
    for i in 0..spec.count {
        let country = country_for(&mut rng, focus);
        let seller = world.seller_in(&mut rng, country);
        let row = listing_row(&mut rng, spec.seed, i, country, seller, share);
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SSZ` some time in 2026.
fn day_in_2026(rng: &mut Rng) -> String {
    let base = 1_767_225_600_000i64; // 2026-01-01
    let at = base + (rng.next() % (300 * 86_400_000)) as i64;
    crate::time::rfc3339(at)
}

/// A price for `qty` units in the country's currency, as a decimal.
fn price(rng: &mut Rng, p: &Product, qty: u64, c: &Country) -> String {
    let usd = rng.range(p.usd.0 as u64, p.usd.1 as u64) as f64 * qty as f64;
    let local = usd * c.currency.1;
    // Sellers round: to two significant figures above 1,000.
    let magnitude = 10f64.powi((local.log10().floor() as i32 - 1).max(0));
    format!("{:.0}", (local / magnitude).round() * magnitude)
}

fn title(rng: &mut Rng, p: &Product, common: &str, qty: u64, c: &Country) -> String {
    let template = *rng.pick(p.titles);
    let code = *rng.pick(p.codes);
    let phrase = *rng.pick(c.phrases);
    template
        .replace("{code}", code)
        .replace("{qty}", &qty.to_string())
        .replace("{unit}", p.unit)
        .replace("{common}", common)
        .replace("{phrase}", phrase)
}

fn listing_row(
    rng: &mut Rng,
    seed: u64,
    i: u64,
    c: &Country,
    s: &Seller,
    share: Option<&str>,
) -> Vec<String> {
    let p = rng.pick(&PRODUCTS);
    let (species, common) = *rng.pick(p.species);
    let qty = rng.range(p.qty.0 as u64, p.qty.1 as u64);
    let title = title(rng, p, common, qty, c);
    let mut selectors = vec![format!("handle:{}", s.handle)];
    selectors.extend(s.phone.iter().map(|x| format!("phone:{x}")));
    selectors.extend(s.email.iter().map(|x| format!("email:{x}")));
    selectors.extend(s.wallet.iter().map(|x| format!("wallet:{x}")));
    let mut text = format!("{title}. {}", *rng.pick(c.phrases));
    if rng.chance(4) {
        selectors.push(format!("handle:{DECOY_COURIER}"));
        text.push_str(" Shipping via our courier, ask on telegram.");
    }
    if rng.chance(3) {
        selectors.push(format!("email:{DECOY_NOREPLY}"));
    }
    let name = s
        .handle
        .split_once(':')
        .map(|(_, n)| n)
        .unwrap_or(&s.handle);
    let tlp = *rng.pick(&["green", "amber", "amber", "amber-strict"]);
    let random_share = *rng.pick(&["local", "federation", "federation"]);
    let host = format!("{}.example", s.platform);
    vec![
        species.into(),
        s.platform.into(),
        format!("https://{host}/listing/{seed}-{i}"),
        title,
        text,
        name.into(),
        format!("https://{host}/u/{name}"),
        price(rng, p, qty, c),
        c.currency.0.into(),
        qty.to_string(),
        p.item.into(),
        c.code.into(),
        day_in_2026(rng),
        tlp.into(),
        share.unwrap_or(random_share).into(),
        "h0".into(),
        format!("generated;{}", p.name.replace(' ', "-")),
        selectors.join(";"),
        String::new(),
    ]
}

#[cfg(test)]
mod tests;
