//! Step 2 — the double-entry ledger.
//!
//! ## The guarantee
//! Every payment's money movement is two ledger entries, a debit of the source
//! and a credit of the destination, written in the **same transaction** as the
//! payment row: either all three exist or none does. All entries therefore sum
//! to zero, and every balance — opening balance plus the account's entries —
//! is exactly what the payments say. No payment is made that its source cannot
//! cover at that moment, so payments never overdraw an account.
//!
//! One movement is not checked: the reversal after a declined card. It debits
//! the destination unconditionally, and if the destination has already spent
//! the money the pending payment credited, it goes below zero. The exercise
//! accepts that; production holds incoming funds (an "available" balance that
//! leaves out pending credits) until the charge succeeds.
//!
//! ## Why a row lock
//! "Check the balance, then write the debit" is a race: two concurrent payments
//! both see enough money and both debit. Locking the source account's row
//! (`SELECT … FOR UPDATE`) makes the second one wait for the first to commit and
//! then see its debit. Both accounts are locked in id order, so two payments
//! going opposite ways between the same accounts cannot deadlock.
//!
//! ## What production adds
//! A balance cache (a running total updated in the same transaction) once
//! summing entries gets slow, holds/authorisations separate from captures, and
//! multi-currency accounts with FX legs.

use sqlx::{PgConnection, Row};

use crate::error::AppError;
use crate::model::{Account, NewPayment, Payment};

/// Create the payment (status `pending`) and its two entries inside `tx`.
///
/// Refuses, writing nothing, when an account does not exist (404), a currency
/// does not match (422), or the source cannot cover the amount (422).
pub async fn create_payment(
    tx: &mut PgConnection,
    client_id: &str,
    payment_id: &str,
    new: &NewPayment,
    now_ms: i64,
) -> Result<Payment, AppError> {
    let ids = [new.source.as_str(), new.destination.as_str()];
    let rows =
        sqlx::query("SELECT id, currency FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&ids[..])
            .fetch_all(&mut *tx)
            .await?;
    for id in ids {
        let Some(row) = rows.iter().find(|r| r.get::<String, _>("id") == id) else {
            return Err(AppError::AccountNotFound(id.to_string()));
        };
        let currency: String = row.get("currency");
        if currency != new.currency {
            return Err(AppError::InvalidRequest(format!(
                "account {id} holds {currency}, not {}",
                new.currency
            )));
        }
    }
    // The source's row is locked: no other payment can debit it until we commit,
    // so this balance stays true for the rest of the transaction.
    if balance_of(&mut *tx, &new.source).await? < new.amount {
        return Err(AppError::InsufficientFunds {
            account: new.source.clone(),
        });
    }

    sqlx::query(
        "INSERT INTO payments (id, client_id, amount, currency, source, destination, description, status, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)",
    )
    .bind(payment_id)
    .bind(client_id)
    .bind(new.amount)
    .bind(&new.currency)
    .bind(&new.source)
    .bind(&new.destination)
    .bind(&new.description)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    write_entries(
        tx,
        payment_id,
        &new.source,
        &new.destination,
        new.amount,
        "transfer",
    )
    .await?;
    Ok(Payment {
        id: payment_id.to_string(),
        amount: new.amount,
        currency: new.currency.clone(),
        source: new.source.clone(),
        destination: new.destination.clone(),
        description: new.description.clone(),
        status: "pending".into(),
        created: now_ms / 1000,
    })
}

/// Undo a payment's movement with two opposite entries (never by deleting), and
/// mark it failed. Used when the card is declined. Not balance-checked: a
/// decline cannot be refused (see the module's note on held funds).
pub async fn reverse(tx: &mut PgConnection, payment_id: &str) -> Result<(), AppError> {
    let row =
        sqlx::query("SELECT source, destination, amount FROM payments WHERE id = $1 FOR UPDATE")
            .bind(payment_id)
            .fetch_one(&mut *tx)
            .await?;
    let (source, destination, amount): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
    // Money goes back: debit the destination, credit the source.
    write_entries(tx, payment_id, &destination, &source, amount, "reversal").await?;
    sqlx::query("UPDATE payments SET status = 'failed' WHERE id = $1")
        .bind(payment_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn write_entries(
    tx: &mut PgConnection,
    payment_id: &str,
    debit: &str,
    credit: &str,
    amount: i64,
    kind: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO ledger_entries (payment_id, account_id, amount, kind)
         VALUES ($1, $2, $3, $5), ($1, $4, -$3, $5)",
    )
    .bind(payment_id)
    .bind(credit)
    .bind(amount)
    .bind(debit)
    .bind(kind)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Opening balance plus every entry of the account.
pub async fn balance_of(conn: &mut PgConnection, account_id: &str) -> Result<i64, AppError> {
    let balance: Option<i64> = sqlx::query_scalar(
        "SELECT a.opening_balance + COALESCE((SELECT SUM(e.amount) FROM ledger_entries e WHERE e.account_id = a.id), 0)::bigint
         FROM accounts a WHERE a.id = $1",
    )
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?;
    balance.ok_or_else(|| AppError::AccountNotFound(account_id.to_string()))
}

/// `GET /v1/accounts/{id}`.
pub async fn account(conn: &mut PgConnection, account_id: &str) -> Result<Account, AppError> {
    let currency: Option<String> =
        sqlx::query_scalar("SELECT currency FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&mut *conn)
            .await?;
    let currency = currency.ok_or_else(|| AppError::AccountNotFound(account_id.to_string()))?;
    Ok(Account {
        id: account_id.to_string(),
        currency,
        balance: balance_of(conn, account_id).await?,
    })
}
