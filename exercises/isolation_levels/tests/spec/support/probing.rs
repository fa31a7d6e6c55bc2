//! The probe's own tests, the same on either engine (steps 1 and 5): a row
//! lock wait is seen and its release is seen at once; a slow statement that
//! waits for no lock is never called waiting.

use std::time::Duration;

use isolation_levels::scheduler::{self, Conn};
use isolation_levels::{Db, Engine};

use super::BOUND;

/// A session of its own on `db`, outside any pool.
pub async fn session(db: &Db) -> anyhow::Result<Conn> {
    Ok(match db {
        Db::Postgres(pool) => Conn::Postgres(pool.acquire().await?.detach()),
        Db::MariaDb(pool) => Conn::MariaDb(pool.acquire().await?.detach()),
    })
}

/// The session's id as the engine's views name it.
async fn id(conn: &mut Conn) -> anyhow::Result<u64> {
    Ok(match conn {
        Conn::Postgres(c) => {
            let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut *c)
                .await?;
            pid as u64
        }
        Conn::MariaDb(c) => {
            sqlx::query_scalar("SELECT CONNECTION_ID()")
                .fetch_one(&mut *c)
                .await?
        }
    })
}

/// Run `sql` on the session.
async fn exec(conn: &mut Conn, sql: &'static str) -> Result<(), sqlx::Error> {
    match conn {
        Conn::Postgres(c) => sqlx::raw_sql(sql).execute(&mut *c).await.map(drop),
        Conn::MariaDb(c) => sqlx::raw_sql(sql).execute(&mut *c).await.map(drop),
    }
}

/// The README step that explains the probe on `db`'s engine.
fn step(db: &Db) -> u8 {
    match db.engine() {
        Engine::Postgres => 1,
        Engine::MariaDb => 5,
    }
}

/// A session blocked by another's row lock is seen waiting, and is seen
/// released at the very next look once the holder commits.
pub async fn a_row_lock_wait_is_seen_then_released(db: &Db) -> anyhow::Result<()> {
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        .await?;
    db.execute("INSERT INTO t VALUES (1, 0)").await?;
    let mut holder = session(db).await?;
    exec(&mut holder, "BEGIN").await?;
    exec(&mut holder, "UPDATE t SET v = 1 WHERE id = 1").await?;

    let mut waiter = session(db).await?;
    let waiter_id = id(&mut waiter).await?;
    let blocked =
        tokio::spawn(async move { exec(&mut waiter, "UPDATE t SET v = 2 WHERE id = 1").await });
    let mut observer = session(db).await?;
    super::until_waiting(&mut observer, waiter_id).await?;
    exec(&mut holder, "COMMIT").await?;
    // The lock is released inside the COMMIT: the very next look must say so.
    assert!(
        !scheduler::look(&mut observer, waiter_id).await?,
        "the holder committed, yet waiting_for_lock still says the {} session waits for a \
         lock: ask who blocks it now, not what it last waited on (README, step {})",
        db.engine(),
        step(db)
    );
    labkit::within(BOUND, "the released UPDATE", blocked).await???;
    Ok(())
}

/// A statement that only sleeps (`sleep_sql`, at least 0.6 s) is never called
/// waiting, however often it is looked at while it runs.
pub async fn a_slow_statement_is_never_called_waiting(
    db: &Db,
    sleep_sql: &'static str,
) -> anyhow::Result<()> {
    let mut sleeper = session(db).await?;
    let sleeper_id = id(&mut sleeper).await?;
    let sleep = tokio::spawn(async move { exec(&mut sleeper, sleep_sql).await });
    let mut observer = session(db).await?;
    let mut looks = 0;
    while !sleep.is_finished() {
        assert!(
            !scheduler::look(&mut observer, sleeper_id).await?,
            "`{sleep_sql}` holds and waits for no lock, yet waiting_for_lock says the {} \
             session waits for one (README, step {})",
            db.engine(),
            step(db)
        );
        looks += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        looks > 3,
        "the sleep ended before it could be looked at ({looks} looks)"
    );
    labkit::within(BOUND, "the sleep", sleep).await???;
    Ok(())
}
