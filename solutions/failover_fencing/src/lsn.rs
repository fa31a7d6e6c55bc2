//! A WAL position, as Postgres prints it: `16/B374D848` is the high and low
//! 32 bits of a 64-bit byte offset into the write-ahead log, in hex.
//!
//! Comparing LSNs as text is the classic bug: `"9/0" > "10/0"` as strings. So
//! every LSN is parsed into a number once, at the edge, and compared as one.

use std::fmt;
use std::str::FromStr;

use crate::error::FailoverError;

/// A byte position in the WAL. Ordered: a larger LSN is later in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = FailoverError;

    /// `X/Y`, each one to eight hex digits (either case). Anything else — no
    /// slash, an empty half, a sign, a ninth digit — is refused, never guessed.
    fn from_str(text: &str) -> Result<Lsn, FailoverError> {
        let bad = || FailoverError::BadLsn(text.to_string());
        let (high, low) = text.split_once('/').ok_or_else(bad)?;
        let half = |part: &str| {
            // from_str_radix accepts a leading '+': check the digits ourselves.
            if part.is_empty() || part.len() > 8 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            u32::from_str_radix(part, 16).map_err(|_| bad())
        };
        Ok(Lsn((u64::from(half(high)?) << 32) | u64::from(half(low)?)))
    }
}

impl fmt::Display for Lsn {
    /// As Postgres prints it: upper-case hex, no leading zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}
