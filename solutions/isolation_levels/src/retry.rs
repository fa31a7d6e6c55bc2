//! Step 4: retrying a serializable transaction, done right.
//!
//! Under SERIALIZABLE a serialization failure (40001) or a deadlock (40P01) is
//! a normal outcome: the engine chose this transaction to abort so the others
//! stay serializable, and the same work run again, from a fresh snapshot, will
//! usually go through. Everything else — a unique violation, a syntax error, a
//! check constraint — will fail the same way every time, so retrying it only
//! hides the error and multiplies the load.
//!
//! [`run_serializable`] owns the whole attempt: it begins the transaction,
//! runs the body from the start, commits, and on a retryable failure rolls
//! back, waits a jittered backoff and begins again. The body must therefore be
//! safe to run more than once: it derives everything from what it reads in
//! *this* attempt, and puts side effects in the database (an outbox row), not
//! in the outside world.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};

use crate::db::DbFailure;
use crate::gate::Gate;
use crate::orders::{Mailer, NewOrder, relay};

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The backoff ceiling after the first failed attempt; it doubles per
    /// further failure, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(200),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1 for the first), given a
    /// `jitter` in [0, 1): "full jitter", a uniform share of the ceiling
    /// `min(max_delay, base_delay × 2^(attempt − 1))`. Jitter matters: two
    /// transactions that conflicted once and wait the same time conflict again.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let ceiling = self
            .base_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        ceiling.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// The body committed, after this many attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed<T> {
    pub value: T,
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// Every attempt ended in a retryable failure; the last one is `last`.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        attempts: u32,
        #[source]
        last: sqlx::Error,
    },
    /// An error that retrying cannot fix, returned at once.
    #[error("failed on attempt {attempts}: {source}")]
    Failed {
        attempts: u32,
        #[source]
        source: sqlx::Error,
    },
}

/// Is `error` one that running the same transaction again can cure?
/// 40001 (serialization_failure) and 40P01 (deadlock_detected), nothing else.
pub fn is_retryable(error: &sqlx::Error) -> bool {
    matches!(
        DbFailure::of(error).sqlstate.as_deref(),
        Some("40001" | "40P01")
    )
}

/// Run `body` in a SERIALIZABLE transaction and commit it, retrying the whole
/// transaction on a serialization failure or deadlock, up to
/// `policy.max_attempts` attempts in all.
pub async fn run_serializable<T, F>(
    pool: &PgPool,
    policy: &RetryPolicy,
    mut body: F,
) -> Result<Committed<T>, RetryError>
where
    F: AsyncFnMut(&mut PgConnection) -> Result<T, sqlx::Error>,
{
    let max = policy.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let error = match once(pool, &mut body).await {
            Ok(value) => {
                return Ok(Committed {
                    value,
                    attempts: attempt,
                });
            }
            Err(e) => e,
        };
        if !is_retryable(&error) {
            return Err(RetryError::Failed {
                attempts: attempt,
                source: error,
            });
        }
        if attempt >= max {
            return Err(RetryError::GaveUp {
                attempts: attempt,
                last: error,
            });
        }
        tracing::debug!(attempt, %error, "serialization failure; retrying");
        tokio::time::sleep(policy.delay(attempt, fastrand::f64())).await;
    }
}

/// One attempt: begin, body, commit. Dropping the transaction on an error
/// rolls it back.
async fn once<T, F>(pool: &PgPool, body: &mut F) -> Result<T, sqlx::Error>
where
    F: AsyncFnMut(&mut PgConnection) -> Result<T, sqlx::Error>,
{
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await?;
    let value = body(&mut tx).await?;
    // SSI may report the conflict only now, at COMMIT.
    tx.commit().await?;
    Ok(value)
}

/// Why an order was not placed.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The order would take the customer past their credit limit.
    #[error("over the credit limit: {open_cents} open + {total_cents} > {credit_cents}")]
    OverLimit {
        open_cents: i64,
        total_cents: i64,
        credit_cents: i64,
    },
    #[error("there is no customer {0}")]
    UnknownCustomer(i32),
    /// An order of no lines, or a line with a price or quantity below 1.
    #[error("an order needs at least one line, each with a positive price and quantity")]
    BadOrder,
    #[error(transparent)]
    Retry(#[from] RetryError),
}

/// The decision the body reaches, carried out of the transaction.
enum Decision {
    Placed(i64),
    OverLimit {
        open_cents: i64,
        total_cents: i64,
        credit_cents: i64,
    },
    UnknownCustomer,
}

/// Place `order` if it keeps the customer within their credit limit, and
/// email them once it is placed.
///
/// The check reads every open order of the customer, so two concurrent orders
/// could each pass it alone and together exceed the limit (write skew);
/// SERIALIZABLE with retries prevents that. The confirmation goes through the
/// outbox, in the same transaction, and [`relay`] sends it after the commit:
/// one email however many attempts it took.
pub async fn place_order(
    pool: &PgPool,
    policy: &RetryPolicy,
    mailer: &Mailer,
    order: &NewOrder,
    gate: &Gate,
) -> Result<Committed<i64>, OrderError> {
    if order.lines.is_empty()
        || order
            .lines
            .iter()
            .any(|l| l.price_cents < 1 || l.quantity < 1)
    {
        return Err(OrderError::BadOrder);
    }
    let committed = run_serializable(pool, policy, async |tx: &mut PgConnection| {
        // Everything the attempt needs is computed inside it, from `order`
        // and from what this attempt reads: nothing survives a rollback.
        let total_cents: i64 = order.lines.iter().map(|l| l.price_cents * l.quantity).sum();
        let customer: Option<(String, i64)> =
            sqlx::query_as("SELECT email, credit_cents FROM customers WHERE id = $1")
                .bind(order.customer)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((email, credit_cents)) = customer else {
            return Ok(Decision::UnknownCustomer);
        };
        let open_cents: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(total_cents), 0)::bigint FROM orders WHERE customer_id = $1",
        )
        .bind(order.customer)
        .fetch_one(&mut *tx)
        .await?;
        gate.after_read().await;
        if open_cents + total_cents > credit_cents {
            return Ok(Decision::OverLimit {
                open_cents,
                total_cents,
                credit_cents,
            });
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO orders (customer_id, total_cents) VALUES ($1, $2) RETURNING id",
        )
        .bind(order.customer)
        .bind(total_cents)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO outbox (order_id, email, body) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(&email)
            .bind(format!("order {id} placed: {total_cents} cents"))
            .execute(&mut *tx)
            .await?;
        Ok(Decision::Placed(id))
    })
    .await?;
    let attempts = committed.attempts;
    match committed.value {
        Decision::Placed(id) => {
            // After the commit, outside the retried part. A relay failure
            // leaves the row for the next relay: the order stands.
            if let Err(error) = relay(pool, mailer).await {
                tracing::warn!(%error, "outbox relay failed; the email stays queued");
            }
            Ok(Committed {
                value: id,
                attempts,
            })
        }
        Decision::OverLimit {
            open_cents,
            total_cents,
            credit_cents,
        } => Err(OrderError::OverLimit {
            open_cents,
            total_cents,
            credit_cents,
        }),
        Decision::UnknownCustomer => Err(OrderError::UnknownCustomer(order.customer)),
    }
}
