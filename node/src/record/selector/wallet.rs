//! Wallet selectors: `CHAIN/ADDRESS`, each chain's address checked by its
//! own rules (bech32, EIP-55, base58check). Pure.

/// Chain names an analyst may type for the same chain.
const CHAIN_ALIASES: [(&str, &str); 6] = [
    ("bitcoin", "btc"),
    ("ethereum", "eth"),
    ("litecoin", "ltc"),
    ("tron", "trx"),
    ("monero", "xmr"),
    ("dogecoin", "doge"),
];

/// Chains whose addresses are Ethereum's (`0x` and 40 hex, EIP-55).
const EVM_CHAINS: [&str; 7] = ["eth", "bsc", "polygon", "arb", "op", "base", "avax"];

/// `CHAIN/ADDRESS`, the chain lower-cased. bech32 addresses are checked
/// and lower-cased, EVM addresses EIP-55 checked and lower-cased, base58
/// addresses (`1…`, `3…`) checksum-checked and kept as they are; other
/// chains keep 20-128 letters and digits. A value without a chain is read
/// as Bitcoin or Ethereum when its form says so (normaliser 1 kept none).
pub fn wallet(v: &str) -> Result<String, String> {
    let (chain, addr) = match v.split_once('/') {
        Some((c, a)) => (c.trim().to_ascii_lowercase(), a.trim()),
        None => (guess_chain(v)?.to_string(), v),
    };
    let chain = CHAIN_ALIASES
        .iter()
        .find(|(a, _)| *a == chain)
        .map(|(_, c)| (*c).to_string())
        .unwrap_or(chain);
    if !(2..=10).contains(&chain.len()) || !chain.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "wallet {v:?}: the chain must be 2-10 letters, e.g. btc/…"
        ));
    }
    let addr = if EVM_CHAINS.contains(&chain.as_str()) {
        evm_address(addr)?
    } else if is_bech32_form(addr) {
        bech32_address(addr)?
    } else if chain == "btc" {
        base58_address(addr)?
    } else {
        let ok =
            (20..=128).contains(&addr.len()) && addr.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(format!(
                "wallet {v:?}: the address must be 20-128 letters and digits"
            ));
        }
        addr.to_string()
    };
    Ok(format!("{chain}/{addr}"))
}

fn guess_chain(v: &str) -> Result<&'static str, String> {
    let l = v.to_ascii_lowercase();
    if l.starts_with("0x") && v.len() == 42 {
        Ok("eth")
    } else if l.starts_with("bc1") || v.starts_with('1') || v.starts_with('3') {
        Ok("btc")
    } else {
        Err(format!(
            "wallet {v:?} needs its chain: CHAIN/ADDRESS, e.g. btc/bc1q… or eth/0x…"
        ))
    }
}

fn is_bech32_form(a: &str) -> bool {
    let l = a.to_ascii_lowercase();
    ["bc1", "tb1", "ltc1"].iter().any(|p| l.starts_with(p))
}

fn bech32_address(a: &str) -> Result<String, String> {
    bech32::segwit::decode(a)
        .map_err(|e| format!("wallet address {a:?} fails its bech32 check: {e}"))?;
    Ok(a.to_ascii_lowercase())
}

fn base58_address(a: &str) -> Result<String, String> {
    let raw = bs58::decode(a)
        .with_check(None)
        .into_vec()
        .map_err(|e| format!("wallet address {a:?} fails its base58check: {e}"))?;
    if raw.len() != 21 {
        return Err(format!("wallet address {a:?} is not a Bitcoin address"));
    }
    Ok(a.to_string())
}

/// `0x` and 40 hex digits; a mixed-case address must carry a valid
/// EIP-55 checksum (upper case where Keccak-256 of the lower-case hex has
/// a nibble of 8 or more).
fn evm_address(a: &str) -> Result<String, String> {
    let hex = a
        .strip_prefix("0x")
        .or_else(|| a.strip_prefix("0X"))
        .filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| format!("wallet address {a:?} must be 0x and 40 hex digits"))?;
    let lower = hex.to_ascii_lowercase();
    let mixed =
        hex.bytes().any(|b| b.is_ascii_uppercase()) && hex.bytes().any(|b| b.is_ascii_lowercase());
    if mixed {
        use sha3::Digest as _;
        let hash = sha3::Keccak256::digest(lower.as_bytes());
        let ok = hex.bytes().enumerate().all(|(i, b)| {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0xf;
            !b.is_ascii_alphabetic() || b.is_ascii_uppercase() == (nibble >= 8)
        });
        if !ok {
            return Err(format!(
                "wallet address {a:?} fails its EIP-55 checksum: check the letters' case"
            ));
        }
    }
    Ok(format!("0x{lower}"))
}
