//! Steps 2 and 3: the index, built without stopping the writers.
//!
//! Step 2: the one composite index that lets Postgres walk a customer's
//! orders newest first and stop after ten, and [`build`], which creates an
//! index without ever making a writer wait, under a lock_timeout, retrying,
//! and never leaving an INVALID index behind (README step 2 says what each
//! of those means in Postgres). Step 3: the index that answers the list view
//! from the index alone.

use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};

/// A named index: `CREATE INDEX CONCURRENTLY <name> <definition>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    /// Everything after the name: `ON orders (…) [INCLUDE (…)]`.
    pub definition: &'static str,
}

/// Step 2: the index that serves "a customer's latest orders".
pub fn latest_orders_index() -> IndexDef {
    // TODO(step 2): name it, and say which columns, in which order and direction.
    todo!("step 2: latest_orders_index — see README step 2")
}

/// Step 3: the index that answers the list view from the index alone. The
/// same keys, and the list's other columns as payload (`INCLUDE`: stored in
/// the leaf entries, not part of the key, so they cost no ordering work).
pub fn list_view_index() -> IndexDef {
    // TODO(step 3): the same keys, and every other column the list view selects (INCLUDE).
    todo!("step 3: list_view_index — see README step 3")
}

/// How hard [`build`] tries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildConfig {
    /// The longest any one lock wait of the build may last.
    pub lock_timeout: Duration,
    /// Builds tried before giving up (at least 1).
    pub attempts: u32,
    /// Pause between attempts.
    pub backoff: Duration,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            lock_timeout: Duration::from_secs(2),
            attempts: 5,
            backoff: Duration::from_millis(500),
        }
    }
}

/// What [`build`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildReport {
    /// Attempts used (each: drop an INVALID leftover if there is one, then
    /// CREATE); 0 when a valid index was already there.
    pub attempts: u32,
    /// INVALID indexes of that name dropped on the way (an interrupted build's
    /// leftover, or this build's own failed attempts).
    pub dropped_invalid: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index build failed: {0}")]
    Database(#[from] sqlx::Error),
    /// Every attempt hit `lock_timeout`. `invalid_left`: an INVALID index of
    /// that name is still there (the next build drops it).
    #[error("could not build {index}: {attempts} attempts hit lock_timeout")]
    LockTimeout {
        index: String,
        attempts: u32,
        invalid_left: bool,
    },
    /// The configuration cannot work (0 attempts, a zero lock_timeout).
    #[error("invalid build configuration: {0}")]
    InvalidConfig(&'static str),
}

/// Build `index` concurrently, under `config.lock_timeout`, retrying lock
/// timeouts, and dropping an INVALID index of that name first. Returns once
/// the index exists and is valid.
pub async fn build(
    pool: &PgPool,
    index: &IndexDef,
    config: &BuildConfig,
) -> Result<BuildReport, IndexError> {
    // TODO(step 2): refuse a config that cannot work; CONCURRENTLY cannot run in a transaction, so where does
    //     the lock_timeout go without leaking to the pool's next user? Before each attempt: is there
    //     an index of that name already, valid or INVALID? Retry 55P03 only; leave nothing INVALID.
    todo!("step 2: build — see README step 2")
}
