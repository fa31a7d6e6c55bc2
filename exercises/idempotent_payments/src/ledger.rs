//! Step 2 — the double-entry ledger.
//!
//! A payment is a payment row and two ledger entries — a debit of the source
//! (negative) and a credit of the destination (positive) — written in the same
//! transaction: all three or none. Balances are never stored; they are the
//! opening balance plus the entries. No payment may take its source below
//! zero, even when payments from one account arrive concurrently. (A reversal
//! after a declined card is not checked: see README step 2.)

use sqlx::PgConnection;

use crate::error::AppError;
use crate::model::{Account, NewPayment, Payment};

/// Create the payment (status `pending`) and its two entries inside `tx`.
/// Refuse, writing nothing: unknown account (404), currency mismatch (422),
/// insufficient funds (422).
pub async fn create_payment(
    tx: &mut PgConnection,
    client_id: &str,
    payment_id: &str,
    new: &NewPayment,
    now_ms: i64,
) -> Result<Payment, AppError> {
    // TODO(step 2): check the accounts, check the balance without racing a
    // concurrent payment, then insert the payment and its entries.
    todo!("step 2: ledger::create_payment — see README step 2")
}

/// Undo a payment's movement with two opposite entries (never by deleting) and
/// mark it `failed`. Used when the card is declined (step 4).
pub async fn reverse(tx: &mut PgConnection, payment_id: &str) -> Result<(), AppError> {
    // TODO(step 4)
    todo!("step 4: ledger::reverse — see README step 4")
}

/// Opening balance plus every entry of the account.
pub async fn balance_of(conn: &mut PgConnection, account_id: &str) -> Result<i64, AppError> {
    // TODO(step 2)
    todo!("step 2: ledger::balance_of — see README step 2")
}

/// `GET /v1/accounts/{id}`.
pub async fn account(conn: &mut PgConnection, account_id: &str) -> Result<Account, AppError> {
    // TODO(step 2)
    todo!("step 2: ledger::account — see README step 2")
}
