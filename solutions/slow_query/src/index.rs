//! Steps 2 and 3: the index, built without stopping the writers.
//!
//! **The index.** `WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 10`
//! wants one B-tree whose entries for a customer sit together, newest first:
//! `(customer_id, created_at DESC)`. Postgres then walks the customer's entries
//! in order and stops after ten; no Sort, and the cost is a few index pages
//! plus at most ten heap pages, for a whale as for a new customer. `id DESC` as
//! a third key makes the order total (eight orders share each instant here), so
//! the pages of step 4 need no sort either. (A plain ascending index would do as
//! well, scanned backward; `DESC` says what the query wants.)
//!
//! **Without stopping writers.** A plain `CREATE INDEX` holds a SHARE lock for
//! the whole build: every INSERT waits for it (minutes at 200M rows). `CREATE
//! INDEX CONCURRENTLY` takes SHARE UPDATE EXCLUSIVE, which writers do not
//! conflict with, and pays for it: two scans of the table, and waits for every
//! transaction that could see the table. Those waits obey `lock_timeout`, and a
//! concurrent build that fails, or is cancelled, leaves its index behind
//! INVALID: never used by queries, still updated by every write. So the build
//! runs under a lock_timeout (a forgotten transaction must not make it wait
//! forever), and each attempt first drops an INVALID leftover, also
//! concurrently. A drop waits for the same transactions a build does, so while
//! the one in the way stays open the leftover cannot go: a build that gives up
//! says whether it left one, and the next build drops it first.
//!
//! In production you would also: check that an existing valid index of that
//! name has the definition you expect, watch `pg_stat_progress_create_index`,
//! and build at a quiet hour (the two scans compete with the workload for I/O).

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
    IndexDef {
        name: "orders_customer_latest",
        definition: "ON orders (customer_id, created_at DESC, id DESC)",
    }
}

/// Step 3: the index that answers the list view from the index alone. The
/// same keys, and the list's other columns as payload (`INCLUDE`: stored in
/// the leaf entries, not part of the key, so they cost no ordering work).
pub fn list_view_index() -> IndexDef {
    IndexDef {
        name: "orders_customer_list",
        definition: "ON orders (customer_id, created_at DESC, id DESC) \
                     INCLUDE (status, total_cents, currency)",
    }
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
    if config.attempts == 0 {
        return Err(IndexError::InvalidConfig("attempts must be at least 1"));
    }
    if config.lock_timeout.is_zero() {
        // 0 means "no timeout" to Postgres: the opposite of what was asked.
        return Err(IndexError::InvalidConfig(
            "lock_timeout 0 would disable the timeout",
        ));
    }
    // CONCURRENTLY cannot run inside a transaction, so `SET LOCAL` is not an
    // option; a session-level SET on a pooled connection would follow it to
    // the next user. So: a connection of its own, closed when done.
    let mut conn = pool.acquire().await?.detach();
    let result = build_on(&mut conn, index, config).await;
    let _ = conn.close().await;
    result
}

async fn build_on(
    conn: &mut PgConnection,
    index: &IndexDef,
    config: &BuildConfig,
) -> Result<BuildReport, IndexError> {
    // Rounded up to whole milliseconds: never down, and never to 0 ("no timeout").
    let timeout_ms = config.lock_timeout.as_micros().div_ceil(1000).max(1);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SET lock_timeout = '{timeout_ms}ms'"
    )))
    .execute(&mut *conn)
    .await?;
    let mut report = BuildReport {
        attempts: 0,
        dropped_invalid: 0,
    };
    for attempt in 1..=config.attempts {
        report.attempts = attempt;
        match validity(conn, index.name).await? {
            // Valid already: nothing to do (and no attempt used, on the first round).
            Some(true) => {
                report.attempts -= 1;
                return Ok(report);
            }
            Some(false) => match drop_invalid(conn, index.name).await {
                Ok(()) => report.dropped_invalid += 1,
                Err(e) if is_lock_timeout(&e) => {
                    pause(config, attempt).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            },
            None => {}
        }
        let create = format!(
            "CREATE INDEX CONCURRENTLY {} {}",
            index.name, index.definition
        );
        match sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut *conn)
            .await
        {
            Ok(_) => return Ok(report),
            // The failed build has left an INVALID index: the next round drops it.
            Err(e) if is_lock_timeout(&e) => pause(config, attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    // Giving up. An INVALID leftover still costs every write: say so.
    Err(IndexError::LockTimeout {
        index: index.name.to_string(),
        attempts: config.attempts,
        invalid_left: validity(conn, index.name).await? == Some(false),
    })
}

/// The backoff between two attempts (none after the last one).
async fn pause(config: &BuildConfig, attempt: u32) {
    if attempt < config.attempts {
        tokio::time::sleep(config.backoff).await;
    }
}

/// `Some(indisvalid)` of the index called `name`, or `None` if there is none.
async fn validity(conn: &mut PgConnection, name: &str) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
}

async fn drop_invalid(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP INDEX CONCURRENTLY IF EXISTS {name}"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// SQLSTATE 55P03, `lock_not_available`: what `lock_timeout` raises.
fn is_lock_timeout(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "55P03")
}
