//! Step 4: an opaque cursor the client cannot forge.
//!
//! A cursor is the position of the last row of a page: `(created_at, id)`,
//! and the customer it belongs to. Handing it out as plain JSON invites
//! clients to build their own (and the server to trust them); signing it makes
//! any change detectable, so the server can take the position as its own.
//!
//! Wire form: 48 bytes, hex-encoded (96 characters): the customer, the
//! microseconds and the id as big-endian i64s, then the first 24 bytes of an
//! HMAC-SHA256 of those 24 bytes. The MAC is compared in constant time
//! (`verify_truncated_left`), so a forger learns nothing from timing.
//!
//! In production you would also: put a key id in the cursor so keys can be
//! rotated, and an expiry if old positions should stop working. A cursor is
//! not a secret: signing proves it is ours, it does not hide what is in it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The position after which the next page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub customer_id: i64,
    pub created_at_us: i64,
    pub id: i64,
}

/// The server's secret for signing cursors.
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl CursorKey {
    /// A key from secret bytes (use at least 32 random bytes).
    pub fn new(secret: impl Into<Vec<u8>>) -> CursorKey {
        CursorKey(secret.into())
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)") // never print the secret
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CursorError {
    /// Not something [`Cursor::encode`] could have produced.
    #[error("malformed cursor")]
    Malformed,
    /// Well-formed, but the signature does not match: changed or forged.
    #[error("the cursor's signature does not match")]
    BadSignature,
    /// Signed by us, for another customer's orders.
    #[error("the cursor belongs to another customer")]
    WrongCustomer,
}

const PAYLOAD: usize = 24;
const MAC: usize = 24;
/// The length of every encoded cursor.
pub const ENCODED_LEN: usize = 2 * (PAYLOAD + MAC);

impl Cursor {
    /// The opaque, signed form.
    pub fn encode(&self, key: &CursorKey) -> String {
        let payload = self.payload();
        let mut mac = mac(key);
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        let mut bytes = payload.to_vec();
        bytes.extend_from_slice(&tag[..MAC]);
        hex::encode(bytes)
    }

    /// Check `text` was made by [`Cursor::encode`] with `key`, unchanged, for
    /// `customer_id`, and read it.
    pub fn decode(text: &str, key: &CursorKey, customer_id: i64) -> Result<Cursor, CursorError> {
        // The length first: never decode (or allocate for) an oversized input.
        // Then the exact alphabet encode uses: hex::decode also takes upper
        // case, and two spellings of one cursor would make "any changed
        // character is refused" untrue.
        if text.len() != ENCODED_LEN
            || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(CursorError::Malformed);
        }
        let bytes = hex::decode(text).map_err(|_| CursorError::Malformed)?;
        let (payload, tag) = bytes.split_at(PAYLOAD);
        let mut mac = mac(key);
        mac.update(payload);
        mac.verify_truncated_left(tag)
            .map_err(|_| CursorError::BadSignature)?;
        let field = |i: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&payload[i * 8..i * 8 + 8]);
            i64::from_be_bytes(word)
        };
        let cursor = Cursor {
            customer_id: field(0),
            created_at_us: field(1),
            id: field(2),
        };
        if cursor.customer_id != customer_id {
            return Err(CursorError::WrongCustomer);
        }
        Ok(cursor)
    }

    fn payload(&self) -> [u8; PAYLOAD] {
        let mut out = [0u8; PAYLOAD];
        out[..8].copy_from_slice(&self.customer_id.to_be_bytes());
        out[8..16].copy_from_slice(&self.created_at_us.to_be_bytes());
        out[16..].copy_from_slice(&self.id.to_be_bytes());
        out
    }
}

fn mac(key: &CursorKey) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes a key of any length")
}
