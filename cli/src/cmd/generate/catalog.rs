//! What the synthetic market trades and where: products with their
//! species, code words, title patterns, prices and seizure facts, and
//! countries with their currency, platforms, phrases and ports. Figures
//! are orders of magnitude from seizure and market reporting (TRAFFIC,
//! UNODC World Wildlife Crime Report), not prices to quote.

/// A traded product.
pub(super) struct Product {
    /// Short name (`scales`, `ivory`, …), also the listing's tag.
    pub name: &'static str,
    /// `(scientific name, common name)` of the species traded as it.
    pub species: &'static [(&'static str, &'static str)],
    /// The import CSV's item type.
    pub item: &'static str,
    /// What one unit of the offer is (`kg`, `bird`, `m3`, …).
    pub unit: &'static str,
    /// Price of a unit in US dollars, low and high.
    pub usd: (u32, u32),
    /// Units in one offer, low and high.
    pub qty: (u32, u32),
    /// Title patterns: `{code}`, `{qty}`, `{unit}`, `{common}`, `{phrase}`.
    pub titles: &'static [&'static str],
    /// Code words sellers use to dodge platform filters.
    pub codes: &'static [&'static str],
    /// Seizures: CITES term code, the unit of its quantity ("" = number).
    pub cites: (&'static str, &'static str),
    /// Seizures: where the goods come from (ISO 3166).
    pub origins: &'static [&'static str],
    /// Seizures: how the goods were hidden.
    pub concealment: &'static [&'static str],
}

/// The products.
pub(super) const PRODUCTS: [Product; 7] = [
    Product {
        name: "scales",
        species: &[
            ("Smutsia temminckii", "Temminck's ground pangolin"),
            ("Manis javanica", "Sunda pangolin"),
            ("Phataginus tricuspis", "white-bellied pangolin"),
        ],
        item: "part",
        unit: "kg",
        usd: (150, 600),
        qty: (1, 40),
        titles: &[
            "{code} {qty}{unit} {phrase}",
            "Pangolin scales {qty}kg, {phrase}",
            "{code} medicine grade, {qty} {unit}",
        ],
        codes: &["PS", "armour flakes", "chuan shan jia", "TCM scales"],
        cites: ("SCA", "kg"),
        origins: &["NG", "CM", "CD", "UG"],
        concealment: &[
            "sacks declared as cashew nuts",
            "container of timber offcuts",
            "suitcase lining",
        ],
    },
    Product {
        name: "ivory",
        species: &[("Loxodonta africana", "African elephant")],
        item: "product",
        unit: "piece",
        usd: (80, 1500),
        qty: (1, 12),
        titles: &[
            "{code} bangle x{qty}, {phrase}",
            "Antique carved {code}, {qty} pcs, {phrase}",
            "{qty} {code} chopsticks {phrase}",
        ],
        codes: &["white gold", "bone", "old stock", "ox bone (real)"],
        cites: ("CAR", ""),
        origins: &["KE", "TZ", "MZ", "CD"],
        concealment: &[
            "painted as wooden carvings",
            "tea boxes",
            "false-bottom crates",
        ],
    },
    Product {
        name: "live birds",
        species: &[
            ("Psittacus erithacus", "grey parrot"),
            ("Cacatua sulphurea", "yellow-crested cockatoo"),
        ],
        item: "live",
        unit: "bird",
        usd: (300, 2500),
        qty: (1, 6),
        titles: &[
            "{common} babies x{qty}, {phrase}",
            "{code} {common} chicks, {phrase}",
            "Talking {common} for sale {phrase}",
        ],
        codes: &["CB", "hand-fed", "with papers", "DNA sexed"],
        cites: ("LIV", ""),
        origins: &["CM", "CD", "ID"],
        concealment: &[
            "plastic bottles in hand luggage",
            "crates under poultry",
            "car door panels",
        ],
    },
    Product {
        name: "horn",
        species: &[
            ("Diceros bicornis", "black rhinoceros"),
            ("Ceratotherium simum", "white rhinoceros"),
        ],
        item: "part",
        unit: "g",
        usd: (20, 65),
        qty: (50, 2000),
        titles: &[
            "{code} powder {qty}g, {phrase}",
            "{code} cup, {phrase}",
            "Genuine {code} {qty}g {phrase}",
        ],
        codes: &["RH", "black gold", "horn (fever)", "xi jiao"],
        cites: ("HOR", "kg"),
        origins: &["ZA", "MZ", "NA"],
        concealment: &[
            "wrapped in foil in checked bags",
            "cast in plaster",
            "courier parcels marked auto parts",
        ],
    },
    Product {
        name: "rosewood",
        species: &[
            ("Dalbergia cochinchinensis", "Siamese rosewood"),
            ("Pterocarpus santalinus", "red sanders"),
        ],
        item: "product",
        unit: "m3",
        usd: (3000, 20000),
        qty: (1, 30),
        titles: &[
            "{code} logs {qty} {unit}, {phrase}",
            "{common} timber, {qty}{unit}, {phrase}",
            "Hongmu furniture set, {code}",
        ],
        codes: &["hongmu", "red wood", "kosso", "grade A"],
        cites: ("TIM", "m3"),
        origins: &["LA", "KH", "MG", "IN"],
        concealment: &[
            "under declared as plywood",
            "container of mixed furniture",
            "trucks of charcoal",
        ],
    },
    Product {
        name: "tortoises",
        species: &[
            ("Astrochelys radiata", "radiated tortoise"),
            ("Geochelone elegans", "Indian star tortoise"),
        ],
        item: "live",
        unit: "animal",
        usd: (150, 1200),
        qty: (1, 20),
        titles: &[
            "{common} hatchlings x{qty}, {phrase}",
            "{code} {common}, {phrase}",
        ],
        codes: &["CB", "star", "radiata", "pet only"],
        cites: ("LIV", ""),
        origins: &["MG", "IN", "LK"],
        concealment: &[
            "socks in clothing",
            "food packaging",
            "boxes declared as ornamental fish",
        ],
    },
    Product {
        name: "big cat parts",
        species: &[("Panthera tigris", "tiger"), ("Panthera pardus", "leopard")],
        item: "part",
        unit: "piece",
        usd: (200, 8000),
        qty: (1, 10),
        titles: &[
            "{code} tooth pendant, {phrase}",
            "{common} skin, {phrase}",
            "{code} bone wine, {qty} bottles",
        ],
        codes: &["big cat", "lucky claw", "tiger bone balm", "T-skin"],
        cites: ("SKI", ""),
        origins: &["IN", "MM", "LA"],
        concealment: &["rolled in carpets", "parcels marked clothing"],
    },
];

/// A country of the market.
pub(super) struct Country {
    /// ISO 3166 alpha-2.
    pub code: &'static str,
    /// ISO 4217 and units per US dollar.
    pub currency: (&'static str, f64),
    /// Where its sellers post.
    pub platforms: &'static [&'static str],
    /// Local sales phrases (delivery, payment, language).
    pub phrases: &'static [&'static str],
    /// Ports and airports (seizure places).
    pub ports: &'static [&'static str],
    /// Consumer market (a seizure's destination) rather than a source.
    pub market: bool,
}

/// The countries.
pub(super) const COUNTRIES: [Country; 8] = [
    Country {
        code: "KE",
        currency: ("KES", 129.0),
        platforms: &["facebook", "jiji", "telegram", "whatsapp"],
        phrases: &[
            "bei nafuu",
            "delivery Nairobi",
            "M-Pesa only",
            "Mombasa pickup",
        ],
        ports: &["JKIA Nairobi", "Port of Mombasa", "Namanga border post"],
        market: false,
    },
    Country {
        code: "ZA",
        currency: ("ZAR", 18.2),
        platforms: &["facebook", "gumtree", "telegram", "whatsapp"],
        phrases: &[
            "Joburg collection",
            "EFT only",
            "Durban courier",
            "no time wasters",
        ],
        ports: &[
            "OR Tambo airport",
            "Port of Durban",
            "Beitbridge border post",
        ],
        market: false,
    },
    Country {
        code: "GB",
        currency: ("GBP", 0.79),
        platforms: &["ebay", "facebook", "gumtree", "instagram"],
        phrases: &[
            "UK postage",
            "antique, pre-1947",
            "collection London",
            "cash on collection",
        ],
        ports: &["Heathrow airport", "Felixstowe", "Coventry parcel hub"],
        market: true,
    },
    Country {
        code: "VN",
        currency: ("VND", 25_400.0),
        platforms: &["facebook", "zalo", "shopee", "tiktok"],
        phrases: &["giá tốt", "ship COD Hà Nội", "hàng có sẵn", "bao test"],
        ports: &["Noi Bai airport", "Hai Phong port", "Tan Son Nhat airport"],
        market: true,
    },
    Country {
        code: "TH",
        currency: ("THB", 35.5),
        platforms: &["facebook", "line", "shopee", "instagram"],
        phrases: &["ราคาถูก", "ส่งฟรี Bangkok", "พร้อมส่ง", "COD"],
        ports: &["Suvarnabhumi airport", "Laem Chabang port"],
        market: true,
    },
    Country {
        code: "NG",
        currency: ("NGN", 1_500.0),
        platforms: &["facebook", "jiji", "whatsapp", "instagram"],
        phrases: &[
            "Lagos pickup",
            "waybill nationwide",
            "pay on delivery",
            "bulk available",
        ],
        ports: &["Apapa port Lagos", "Murtala Muhammed airport"],
        market: false,
    },
    Country {
        code: "CN",
        currency: ("CNY", 7.2),
        platforms: &["wechat", "taobao", "douyin", "xianyu"],
        phrases: &["现货", "顺丰包邮", "保真", "量大从优"],
        ports: &[
            "Guangzhou Baiyun airport",
            "Port of Shanghai",
            "Pingxiang border",
        ],
        market: true,
    },
    Country {
        code: "ID",
        currency: ("IDR", 16_000.0),
        platforms: &["facebook", "tokopedia", "instagram", "whatsapp"],
        phrases: &["harga nego", "COD Jakarta", "ready stock", "kirim aman"],
        ports: &["Soekarno-Hatta airport", "Tanjung Priok port"],
        market: false,
    },
];

/// The country by code.
pub(super) fn country(code: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.code == code)
}
