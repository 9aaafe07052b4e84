//! The synthetic world the generated records come from: sellers with
//! handles, phones, e-mails and wallets, a few of them active in several
//! countries (the planted cross-border overlaps), and decoy values that
//! recur everywhere and must not link anything. Only reserved values:
//! phones in Ofcom's drama ranges and the North American 555-01XX range,
//! RFC 2606 domains, wallets that cannot exist (`trx/TWILDNETDEMO…`).
//! The world depends on its own seed only, so files generated with
//! different row seeds (one per agency) share its sellers.

use super::catalog::{COUNTRIES, Country};

/// A small deterministic generator (SplitMix64): no crate needed for test data.
pub(super) struct Rng(pub u64);

impl Rng {
    /// The next 64 bits.
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `lo..=hi`.
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    /// One of `items`.
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    /// True with probability `percent`/100.
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Reserved number blocks libphonenumber accepts as valid, as a prefix
/// and the digits that follow: Ofcom's drama ranges 020 7946 0xxx, 0113
/// 496 0xxx, 0121 496 0xxx, 0161 496 0xxx; NANP 555-0100…0199.
const PHONE_BLOCKS: [(&str, usize); 7] = [
    ("+442079460", 3),
    ("+441134960", 3),
    ("+441214960", 3),
    ("+441614960", 3),
    ("+120255501", 2),
    ("+141555501", 2),
    ("+171355501", 2),
];

/// The courier "hotline" pasted into listings everywhere: one value on far
/// more records than the over-correlation limit.
pub const DECOY_COURIER: &str = "telegram:swift_cargo_247";
/// A marketplace no-reply address on many listings: a warninglist entry.
pub const DECOY_NOREPLY: &str = "noreply@marketplace.example";

/// One seller.
pub(super) struct Seller {
    /// `platform:name`.
    pub handle: String,
    /// The platform of the handle.
    pub platform: &'static str,
    /// Where the seller lives.
    pub home: &'static Country,
    /// Active in several countries (a planted overlap across agencies).
    pub cross_border: bool,
    /// Reserved phone, if the seller gives one.
    pub phone: Option<String>,
    /// E-mail on an RFC 2606 domain, if given.
    pub email: Option<String>,
    /// An impossible wallet, if the seller takes crypto.
    pub wallet: Option<String>,
}

/// The sellers of a world.
pub(super) struct World {
    /// Every seller; the cross-border ones first.
    pub sellers: Vec<Seller>,
    /// Indices of the cross-border sellers.
    cross: Vec<usize>,
    /// Indices of the local sellers, by country code.
    local: std::collections::HashMap<&'static str, Vec<usize>>,
}

const NAMES: [&str; 16] = [
    "wild", "exotic", "nature", "rare", "asia", "africa", "golden", "green", "lucky", "jungle",
    "savanna", "royal", "tembo", "simba", "rhino", "dragon",
];
const SUFFIXES: [&str; 8] = [
    "trader", "shop", "store", "dealer", "supply", "hub", "co", "plug",
];

impl World {
    /// A world of `count` sellers (at least 40), `cross_border` of them
    /// active in several countries.
    pub(super) fn new(seed: u64, count: usize, cross_border: usize) -> World {
        let mut rng = Rng(seed ^ 0x05EE_D0F3_011D);
        let count = count.max(40);
        let sellers = (0..count)
            .map(|i| {
                let home = &COUNTRIES[i % COUNTRIES.len()];
                seller(&mut rng, home, i, i < cross_border)
            })
            .collect::<Vec<Seller>>();
        let cross = (0..sellers.len())
            .filter(|&i| sellers[i].cross_border)
            .collect();
        let mut local: std::collections::HashMap<&'static str, Vec<usize>> = Default::default();
        for (i, s) in sellers.iter().enumerate().filter(|(_, s)| !s.cross_border) {
            local.entry(s.home.code).or_default().push(i);
        }
        World {
            sellers,
            cross,
            local,
        }
    }

    /// A seller for a listing seen in `country`: usually one living there,
    /// one time in twenty a cross-border one.
    pub(super) fn seller_in(&self, rng: &mut Rng, country: &Country) -> &Seller {
        if !self.cross.is_empty() && rng.chance(5) {
            return &self.sellers[*rng.pick(&self.cross)];
        }
        match self.local.get(country.code) {
            Some(local) if !local.is_empty() => &self.sellers[*rng.pick(local)],
            _ => rng.pick(&self.sellers),
        }
    }
}

fn seller(rng: &mut Rng, home: &'static Country, i: usize, cross_border: bool) -> Seller {
    let platform = *rng.pick(home.platforms);
    let name = format!(
        "{}_{}{}",
        rng.pick(&NAMES),
        rng.pick(&SUFFIXES),
        rng.range(1, 999)
    );
    let phone = rng.chance(60).then(|| reserved_phone(rng));
    let email = rng.chance(30).then(|| {
        let domain = rng.pick(&["example.com", "example.net", "example.org", "mail.test"]);
        format!("{name}@{domain}")
    });
    let wallet = (cross_border || rng.chance(10))
        .then(|| format!("trx/TWILDNETDEMO{i:06}{:014X}", rng.next() >> 8));
    Seller {
        handle: format!("{platform}:{name}"),
        platform,
        home,
        cross_border,
        phone,
        email,
        wallet,
    }
}

/// A number from a reserved block.
pub(super) fn reserved_phone(rng: &mut Rng) -> String {
    let (prefix, digits) = *rng.pick(&PHONE_BLOCKS);
    let tail = rng.next() % 10u64.pow(digits as u32);
    format!("{prefix}{tail:0digits$}")
}
