// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! What goes over the wire, and the limits the API enforces.

use serde::{Deserialize, Serialize};

/// The largest amount one payment may move, in minor units (100 million in a
/// two-decimal currency).
pub const MAX_AMOUNT: i64 = 10_000_000_000;
/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION: usize = 500;
/// Longest `Idempotency-Key` accepted, in characters.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Page size when `limit` is not given, and the largest one allowed.
pub const DEFAULT_PAGE: i64 = 10;
pub const MAX_PAGE: i64 = 100;

/// The ISO 4217 codes this service accepts (a subset: every code here is real,
/// not every real code is here).
pub const CURRENCIES: &[&str] = &[
    "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR", "ILS",
    "INR", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TRY",
    "USD", "ZAR",
];

/// `POST /v1/payments` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    /// Minor units, 1 ..= MAX_AMOUNT.
    pub amount: i64,
    /// An uppercase ISO 4217 code from CURRENCIES, matching both accounts.
    pub currency: String,
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub description: String,
}

/// A payment as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub source: String,
    pub destination: String,
    pub description: String,
    /// "pending", "succeeded" or "failed".
    pub status: String,
    /// Seconds since the UNIX epoch.
    pub created: i64,
}

/// `GET /v1/payments` body: newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaymentList {
    pub data: Vec<Payment>,
    /// True if a next page exists (ask with `starting_after=<last id>`).
    pub has_more: bool,
}

/// `GET /v1/accounts/{id}` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub currency: String,
    pub balance: i64,
}
