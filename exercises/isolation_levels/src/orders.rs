// PROVIDED: orders, the outbox relay and the mailer (step 4). You do not need
// to change this file; `place_order` and the retry helper are yours, in retry.rs.

//! What a retried transaction may and may not do.
//!
//! A transaction that is retried runs its body more than once. Whatever the
//! body does *outside* the database (send an email, bump a counter in memory,
//! charge a card) happens once per attempt, not once per commit. The outbox
//! pattern moves the email inside: the body inserts an `outbox` row in the same
//! transaction as the order, a rolled-back attempt takes its row with it, and
//! [`relay`] sends each committed row once, after the commit.

use std::sync::Mutex;

use sqlx::PgPool;

/// One line of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    pub price_cents: i64,
    pub quantity: i64,
}

/// What a customer asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub customer: i32,
    pub lines: Vec<Line>,
}

/// An email, as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub body: String,
}

/// Stands in for an SMTP client: it records what it was asked to send.
#[derive(Debug, Default)]
pub struct Mailer {
    sent: Mutex<Vec<Email>>,
}

impl Mailer {
    pub fn send(&self, email: Email) {
        self.sent
            .lock()
            .expect("no test panics while holding the mailer")
            .push(email);
    }

    /// Every email sent so far, in order.
    pub fn sent(&self) -> Vec<Email> {
        self.sent
            .lock()
            .expect("no test panics while holding the mailer")
            .clone()
    }
}

/// A customer with a credit limit.
pub async fn add_customer(
    pool: &PgPool,
    id: i32,
    email: &str,
    credit_cents: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO customers (id, email, credit_cents) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(email)
        .bind(credit_cents)
        .execute(pool)
        .await
        .map(drop)
}

/// Send every committed, unsent outbox row once, and mark it sent. Each row is
/// claimed with `FOR UPDATE SKIP LOCKED`, so two relays never send one row
/// twice. (A crash between the send and the mark would send it again on the
/// next run: delivery is at least once, which is why real emails carry an id.)
pub async fn relay(pool: &PgPool, mailer: &Mailer) -> Result<usize, sqlx::Error> {
    let mut sent = 0;
    loop {
        let mut tx = pool.begin().await?;
        let row: Option<(i64, String, String)> = sqlx::query_as(
            "SELECT id, email, body FROM outbox WHERE sent_at IS NULL \
             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, to, body)) = row else {
            return Ok(sent);
        };
        mailer.send(Email { to, body });
        sqlx::query("UPDATE outbox SET sent_at = now() WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        sent += 1;
    }
}
