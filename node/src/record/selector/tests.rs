//! Table-driven tests of every selector kind, and a property test that
//! normalisation is idempotent.

use super::*;
use proptest::prelude::*;

/// `(input, region, expected normal form)` per kind.
const VALID: &[(&str, &str, Option<&str>, &str)] = &[
    ("phone", "+254 712-345 678", None, "+254712345678"),
    ("phone", "00254712345678", None, "+254712345678"),
    ("phone", "0712 345678", Some("KE"), "+254712345678"),
    ("phone", "(0712) 345 678", Some("ke"), "+254712345678"),
    ("phone", "0754 123 456", Some("TZ"), "+255754123456"),
    ("phone", "+44 (20) 7946 0958", None, "+442079460958"),
    ("phone", "020 7946 0958", Some("GB"), "+442079460958"),
    ("phone", "+254712345678", Some("GB"), "+254712345678"),
    // International numbers ignore the default region (phonenumber 0.3
    // stripped CN's national prefix pattern from +44 113 496 0470).
    ("phone", "+44 113 496 0470", Some("CN"), "+441134960470"),
    ("phone", "+44 121 496 0297", Some("CN"), "+441214960297"),
    ("phone", "+254 0712 345678", Some("KE"), "+254712345678"),
    ("phone", "+254 712 345678 ext. 12", None, "+254712345678"),
    ("phone", "0044 20 7946 0958", None, "+442079460958"),
    ("email", "Trader@Example.COM", None, "trader@example.com"),
    (
        "email",
        "Trader@Bücher.example",
        None,
        "trader@xn--bcher-kva.example",
    ),
    (
        "url",
        "HTTPS://Shop.example:443/i/9/?utm_source=x&b=2&a=1#p",
        None,
        "https://shop.example/i/9?a=1&b=2",
    ),
    (
        "email",
        "verkäufer@bücher.example",
        None,
        "verkäufer@xn--bcher-kva.example",
    ),
    (
        "handle",
        "Facebook:@Ivory.Trader",
        None,
        "facebook:ivory.trader",
    ),
    ("handle", "fb:ivory.trader", None, "facebook:ivory.trader"),
    (
        "handle",
        "twitter:@Pangolin_Deals",
        None,
        "x:pangolin_deals",
    ),
    (
        "url",
        "HTTPS://Shop.Example.com/Item/42/#photos",
        None,
        "https://shop.example.com/Item/42",
    ),
    ("url", "http://a.example", None, "http://a.example"),
    ("url", "http://a.example:80/x/", None, "http://a.example/x"),
    (
        "url",
        "https://a.example:8443/x",
        None,
        "https://a.example:8443/x",
    ),
    (
        "url",
        "https://a.example/p?z=1&utm_source=fb&a=2&fbclid=X1",
        None,
        "https://a.example/p?a=2&z=1",
    ),
    (
        "url",
        "https://a.example/?gclid=1&igshid=2&UTM_Medium=3",
        None,
        "https://a.example",
    ),
    (
        "url",
        "https://user:pw@a.example/p",
        None,
        "https://a.example/p",
    ),
    (
        "url",
        "https://bücher.example/p",
        None,
        "https://xn--bcher-kva.example/p",
    ),
    (
        "wallet",
        "btc/BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
        None,
        "btc/bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    ),
    (
        "wallet",
        "bitcoin/1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        None,
        "btc/1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    ),
    (
        "wallet",
        "ETH/0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        None,
        "eth/0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
    ),
    (
        "wallet",
        "eth/0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        None,
        "eth/0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
    ),
    (
        "wallet",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        None,
        "eth/0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
    ),
    (
        "wallet",
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        None,
        "btc/1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    ),
    (
        "wallet",
        "trx/TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
        None,
        "trx/TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
    ),
    ("imo", "IMO 9074729", None, "9074729"),
    ("plate", "ke/KDA 123A", None, "KE/KDA123A"),
    ("plate", "TZ/t-123-abc", None, "TZ/T123ABC"),
];

/// `(input, region, words the error must contain)` per kind.
const INVALID: &[(&str, &str, Option<&str>, &str)] = &[
    ("phone", "0712345678", None, "national format"),
    ("phone", "+12", None, "not"),
    ("phone", "+254 12", None, "not"),
    ("phone", "+254 712 34567a", None, "not"),
    ("phone", "0712 3456", Some("KE"), "not a valid number"),
    ("phone", "+44 7700 900123", None, "not a valid number"),
    ("email", "trader", None, "no @"),
    ("email", "@example.com", None, "local@domain"),
    ("email", "a@b", None, "local@domain"),
    ("email", "a@.com", None, "local@domain"),
    ("email", "a b@c.com", None, "local@domain"),
    ("handle", "nohandle", None, "platform:handle"),
    ("handle", ":x", None, "needs a platform"),
    ("handle", "fb:", None, "needs a platform"),
    ("url", "ftp://a.example", None, "http"),
    ("url", "a.example/c", None, "not a URL"),
    ("url", "https://", None, "not a URL"),
    ("url", "https://a b.example", None, "not a URL"),
    ("wallet", "short", None, "needs its chain"),
    (
        "wallet",
        "eth/0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
        None,
        "EIP-55",
    ),
    ("wallet", "eth/0x1234", None, "40 hex"),
    (
        "wallet",
        "btc/bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
        None,
        "bech32",
    ),
    (
        "wallet",
        "btc/1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
        None,
        "base58check",
    ),
    ("wallet", "x/abc", None, "chain must be"),
    ("imo", "9074728", None, "check digit"),
    ("imo", "123", None, "7 digits"),
    ("plate", "KDA123A", None, "COUNTRY/PLATE"),
    ("plate", "KEN/KDA123A", None, "alpha-2"),
    ("plate", "KE/K", None, "2-12"),
];

fn kind(name: &str) -> i32 {
    kind_named(name).expect("a kind of the table") as i32
}

#[test]
fn valid_inputs_normalise() {
    let wrong: Vec<String> = VALID
        .iter()
        .filter_map(|(k, input, region, want)| {
            let got = normalise(kind(k), input, *region);
            (got.as_deref() != Ok(*want)).then(|| format!("{k}:{input} in {region:?}: {got:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn invalid_inputs_are_refused_with_the_reason() {
    let wrong: Vec<String> = INVALID
        .iter()
        .filter_map(
            |(k, input, region, words)| match normalise(kind(k), input, *region) {
                Ok(v) => Some(format!("{k}:{input} was accepted as {v}")),
                Err(e) if !e.contains(words) => Some(format!("{k}:{input}: {e:?} lacks {words:?}")),
                Err(_) => None,
            },
        )
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn text_round_trips_through_parse() {
    let s = parse("phone:0712 345678", Some("KE")).expect("valid");
    assert_eq!(text(&s), "phone:+254712345678");
    let s = parse("PLATE:ke/kda 123a", None).expect("valid");
    assert_eq!(text(&s), "plate:KE/KDA123A");
    assert!(
        parse("fax:123", None)
            .expect_err("refused")
            .contains("unknown selector kind")
    );
    assert!(
        parse("nocolon", None)
            .expect_err("refused")
            .contains("kind:value")
    );
}

/// A value normal form 1 stored links to the same key as its normal
/// form 2: the correlation key is this node's, not the signer's.
#[test]
fn correlation_keys_read_older_normal_forms() {
    let sel = |k: &str, v: &str| pb::Selector {
        kind: kind(k),
        value: v.into(),
    };
    let key = |s: &pb::Selector| correlation_key(s, Some("KE"));
    assert_eq!(
        key(&sel("url", "https://shop.example/i/9?utm_source=x")).as_deref(),
        key(&sel("url", "https://shop.example/i/9")).as_deref()
    );
    assert_eq!(
        key(&sel("wallet", "0xabcdef0123456789abcdef0123456789abcdef01")).as_deref(),
        Some("wallet:eth/0xabcdef0123456789abcdef0123456789abcdef01")
    );
    assert_eq!(
        key(&sel("phone", "0712345678")).as_deref(),
        Some("phone:+254712345678")
    );
    assert_eq!(key(&sel("wallet", "not-a-wallet")), None);
}

#[test]
fn stored_selectors_need_only_a_sane_shape() {
    let ok = pb::Selector {
        kind: kind("url"),
        value: "https://a.example/?utm_x=1".into(),
    };
    assert!(check_shape(&ok).is_ok());
    for bad in ["", "a b", "a\u{7}b"] {
        let s = pb::Selector {
            kind: kind("handle"),
            value: bad.into(),
        };
        assert!(check_shape(&s).is_err(), "{bad:?}");
    }
    assert!(
        check_shape(&pb::Selector {
            kind: 99,
            value: "x".into()
        })
        .is_err()
    );
}

#[test]
fn the_region_is_the_records_country_else_the_authors() {
    let mut b = pb::RecordBody {
        author: "TZ-WD".into(),
        ..Default::default()
    };
    assert_eq!(region_of(&b).as_deref(), Some("TZ"));
    b.payload = Some(pb::record_body::Payload::Listing(pb::Listing {
        country: "ke".into(),
        ..Default::default()
    }));
    assert_eq!(region_of(&b).as_deref(), Some("KE"));
}

/// Inputs shaped like each kind, valid or not.
fn input() -> impl Strategy<Value = (&'static str, String, Option<&'static str>)> {
    let region = prop::option::of(prop::sample::select(vec!["KE", "TZ", "GB", "VN", "ZA"]));
    prop_oneof![
        ("[+0]?[0-9 ()-]{6,16}", region.clone()).prop_map(|(v, r)| ("phone", v, r)),
        "[A-Za-z.+]{1,8}@[A-Za-zä]{1,8}\\.[a-z]{2,3}".prop_map(|v| ("email", v, None)),
        "(fb|ig|X|olx):@?[A-Za-z0-9._]{1,12}".prop_map(|v| ("handle", v, None)),
        "https?://[A-Za-z]{1,6}\\.example(:[0-9]{2,4})?(/[A-Za-z0-9%]{0,4}){0,3}/?(\\?([a-z_]{1,6}=[A-Za-z0-9 +%]{0,4}&?){0,4})?(#[a-z]*)?"
            .prop_map(|v| ("url", v, None)),
        "(eth/0x[0-9a-fA-F]{40}|btc/bc1[a-z0-9]{39}|trx/[A-Za-z0-9]{20,34})".prop_map(|v| ("wallet", v, None)),
        "(IMO ?)?[0-9]{7}".prop_map(|v| ("imo", v, None)),
        "[a-zA-Z]{2}/[A-Za-z0-9 .-]{2,12}".prop_map(|v| ("plate", v, None)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// Normalising a normal form gives it back, with or without the region.
    #[test]
    fn normalisation_is_idempotent((k, v, region) in input()) {
        if let Ok(once) = normalise(kind(k), &v, region) {
            prop_assert_eq!(normalise(kind(k), &once, region), Ok(once.clone()));
            prop_assert_eq!(normalise(kind(k), &once, None), Ok(once.clone()));
            let sel = pb::Selector { kind: kind(k), value: once.clone() };
            prop_assert!(check_shape(&sel).is_ok(), "{} is not a stored shape", once);
        }
    }
}

/// A URL whose percent-encoded normal form is over the value limit is
/// refused, not returned: normalising it again would fail (a fuzz find).
#[test]
fn a_normal_form_over_the_limit_is_refused() {
    let long = format!("https://shop.example/?q={}", "\u{00e9}".repeat(900));
    assert!(long.len() <= MAX_VALUE);
    let e =
        normalise(pb::SelectorKind::Url as i32, &long, None).expect_err("too long once encoded");
    assert!(e.contains("in its normal form"), "{e}");
}
