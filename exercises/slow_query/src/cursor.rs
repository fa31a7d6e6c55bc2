//! Step 4: an opaque cursor the client cannot forge.
//!
//! A cursor says where the last page ended. Clients must not be able to read
//! meaning into it, nor change it, nor use one customer's cursor for another:
//! sign it (HMAC-SHA256 with the server's key; `hmac`, `sha2` and `hex` are
//! dependencies already) and check the signature before trusting anything in
//! it. README step 4 lists what must be refused.

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

impl Cursor {
    /// The opaque, signed form.
    pub fn encode(&self, key: &CursorKey) -> String {
        // TODO(step 4): the three numbers and a MAC over them, as URL-safe text.
        todo!("step 4: encode — see README step 4")
    }

    /// Check `text` was made by [`Cursor::encode`] with `key`, unchanged, for
    /// `customer_id`, and read it.
    pub fn decode(text: &str, key: &CursorKey, customer_id: i64) -> Result<Cursor, CursorError> {
        // TODO(step 4): refuse anything encode could not have made (check the length before decoding), then the
        //     signature (in constant time: Mac::verify_slice or verify_truncated_left), then the customer.
        todo!("step 4: decode — see README step 4")
    }
}
