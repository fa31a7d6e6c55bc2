//! Step 4: retrying a serializable transaction, done right. The README's
//! step 4 states what the helper must and must not retry.

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
    /// `jitter` in [0, 1): `min(max_delay, base_delay × 2^(attempt − 1)) × jitter`.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        // TODO(step 4): full jitter under a doubling, capped ceiling; never
        // overflow, whatever `attempt` is.
        todo!("step 4: the backoff (README step 4)")
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
pub fn is_retryable(error: &sqlx::Error) -> bool {
    // TODO(step 4): decide from the SQLSTATE (DbFailure::of helps).
    todo!("step 4: which errors are retryable (README step 4)")
}

/// Run `body` in a SERIALIZABLE transaction and commit it, retrying the whole
/// transaction on a retryable failure, up to `policy.max_attempts` in all.
pub async fn run_serializable<T, F>(
    pool: &PgPool,
    policy: &RetryPolicy,
    mut body: F,
) -> Result<Committed<T>, RetryError>
where
    F: AsyncFnMut(&mut PgConnection) -> Result<T, sqlx::Error>,
{
    // TODO(step 4): per attempt: BEGIN ISOLATION LEVEL SERIALIZABLE, the body
    // from the start, COMMIT (which can fail too); sleep policy.delay(..) with
    // a random jitter (fastrand::f64()) between attempts.
    todo!("step 4: run_serializable (README step 4)")
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

/// Place `order` if it keeps the customer within their credit limit, and
/// email them once it is placed. Call `gate.after_read().await` once the
/// customer's open orders have been read.
pub async fn place_order(
    pool: &PgPool,
    policy: &RetryPolicy,
    mailer: &Mailer,
    order: &NewOrder,
    gate: &Gate,
) -> Result<Committed<i64>, OrderError> {
    // TODO(step 4): refuse a bad order first; then, through run_serializable:
    // read the customer and the sum of their orders, check the limit, insert
    // the order (total = its lines) and its outbox row ("order {id} placed: …").
    // After the commit, relay(pool, mailer).
    todo!("step 4: place_order (README step 4)")
}
