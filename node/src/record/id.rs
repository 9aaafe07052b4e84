//! Record ids (SHA-256 of the body, shown as lowercase hex) and agency ids.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Why an id string is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    /// Not 64 lowercase hex characters.
    #[error("record id {0:?} must be 64 hex characters")]
    RecordId(String),
    /// Not `CC-XXXX`.
    #[error(
        "agency id {0:?} must be an ISO 3166 alpha-2 country code, '-', then 2-12 of A-Z0-9 (e.g. KE-KWS)"
    )]
    AgencyId(String),
}

/// SHA-256 of a record body.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId([u8; 32]);

impl RecordId {
    /// The id of the given body bytes.
    pub fn of_body(body: &[u8]) -> RecordId {
        RecordId(Sha256::digest(body).into())
    }

    /// From raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> RecordId {
        RecordId(bytes)
    }

    /// From a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<RecordId> {
        bytes.try_into().ok().map(RecordId)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 12 hex characters, for tables and logs.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl FromStr for RecordId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IdError::RecordId(s.to_string()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.to_ascii_lowercase(), &mut out)
            .map_err(|_| IdError::RecordId(s.to_string()))?;
        Ok(RecordId(out))
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", self.short())
    }
}

/// An agency id like `KE-KWS`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgencyId(String);

impl AgencyId {
    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ISO 3166 alpha-2 country part.
    pub fn country(&self) -> &str {
        &self.0[..2]
    }
}

impl FromStr for AgencyId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let ok = bytes.len() >= 5
            && bytes.len() <= 15
            && bytes[..2].iter().all(u8::is_ascii_uppercase)
            && bytes[2] == b'-'
            && bytes[3..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(AgencyId(s.to_string()))
        } else {
            Err(IdError::AgencyId(s.to_string()))
        }
    }
}

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Agency ids follow `CC-` then 2–12 of A-Z0-9, nothing else.
    #[test]
    fn agency_id_rules() {
        for ok in ["KE-KWS", "ZA-DFFE", "GB-NWCU", "VN-EP", "TH-ABCDEFGHIJ12"] {
            assert!(ok.parse::<AgencyId>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "KE",
            "KE-",
            "KE-K",
            "ke-kws",
            "KEN-KWS",
            "KE_KWS",
            "KE-KWS!",
            "KE-ABCDEFGHIJKLM",
            "1E-KWS",
        ] {
            assert!(bad.parse::<AgencyId>().is_err(), "{bad}");
        }
    }

    /// Ids round-trip through hex and reject anything not 64 hex digits.
    #[test]
    fn record_id_hex() {
        let id = RecordId::of_body(b"x");
        assert_eq!(id.to_hex().parse::<RecordId>(), Ok(id));
        assert_eq!(id.to_hex().to_uppercase().parse::<RecordId>(), Ok(id));
        assert!(id.to_hex()[..63].parse::<RecordId>().is_err());
        assert!(
            format!("{}g", &id.to_hex()[..63])
                .parse::<RecordId>()
                .is_err()
        );
    }
}
