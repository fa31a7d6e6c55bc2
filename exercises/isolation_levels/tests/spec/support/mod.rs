//! The test harness: a fresh database per test on each engine, the known
//! answers, and small helpers that read facts straight from the database.

pub mod buying;
pub mod known;
pub mod probing;

use std::time::Duration;

use isolation_levels::{Db, schema};
use labkit::{TestDb, TestMyDb};

/// A bound for anything a test waits on; far above what any step takes.
pub const BOUND: Duration = Duration::from_secs(30);

/// A fresh Postgres database with the exercise's tables.
pub async fn postgres() -> anyhow::Result<(TestDb, Db)> {
    let test_db = TestDb::new().await?;
    let db = Db::Postgres(test_db.pool().clone());
    labkit::within(
        BOUND,
        "creating the tables on Postgres",
        schema::create(&db),
    )
    .await??;
    Ok((test_db, db))
}

/// A fresh MariaDB database with the exercise's tables.
pub async fn mariadb() -> anyhow::Result<(TestMyDb, Db)> {
    let test_db = TestMyDb::new().await?;
    let db = Db::MariaDb(test_db.pool().clone());
    labkit::within(BOUND, "creating the tables on MariaDB", schema::create(&db)).await??;
    Ok((test_db, db))
}

/// A fresh MariaDB database whose every session runs with
/// `innodb_snapshot_isolation` on, whatever the server's default: InnoDB's
/// REPEATABLE READ as it behaves on MariaDB 11.8 and later.
pub async fn mariadb_with_snapshot_isolation() -> anyhow::Result<(TestMyDb, Db)> {
    let test_db = TestMyDb::new().await?;
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(BOUND)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::raw_sql("SET SESSION innodb_snapshot_isolation = ON")
                    .execute(conn)
                    .await
                    .map(drop)
            })
        })
        .connect(test_db.url())
        .await?;
    let db = Db::MariaDb(pool);
    labkit::within(BOUND, "creating the tables on MariaDB", schema::create(&db)).await??;
    Ok((test_db, db))
}

/// The Postgres pool inside a [`Db`].
pub fn pg(db: &Db) -> &sqlx::PgPool {
    match db {
        Db::Postgres(pool) => pool,
        Db::MariaDb(_) => panic!("this helper is for Postgres"),
    }
}

/// The MariaDB pool inside a [`Db`].
pub fn my(db: &Db) -> &sqlx::MySqlPool {
    match db {
        Db::MariaDb(pool) => pool,
        Db::Postgres(_) => panic!("this helper is for MariaDB"),
    }
}

/// The SQLSTATE of a query's error, or `None` if it succeeded.
pub fn sqlstate<T>(result: &Result<T, sqlx::Error>) -> Option<String> {
    match result {
        Ok(_) => None,
        Err(e) => e
            .as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned())),
    }
}

/// Run `anomaly`'s schedule at every level on `db` and check each outcome
/// against the known answer; one message lists every level that differs.
pub async fn check_anomaly(db: &Db, anomaly: isolation_levels::Anomaly) -> anyhow::Result<()> {
    use isolation_levels::{Level, classify, schedule, scheduler};
    let snapshot_isolation = match db {
        Db::MariaDb(pool) => {
            let on: i64 = sqlx::query_scalar("SELECT @@innodb_snapshot_isolation + 0")
                .fetch_one(pool)
                .await
                .unwrap_or(0);
            on != 0
        }
        Db::Postgres(_) => false,
    };
    let mut wrong = Vec::new();
    for level in Level::ALL {
        let run = labkit::within(
            BOUND,
            format!("running the {anomaly:?} schedule at {level}"),
            scheduler::run(db, level, &schedule(anomaly)),
        )
        .await??;
        let got = classify(anomaly, &run);
        let want = known::outcome(db.engine(), anomaly, level, snapshot_isolation);
        if got != want {
            wrong.push(format!(
                "at {level}: classified {got:?}, but {} gives {want:?}.\n{}",
                db.engine(),
                run.describe()
            ));
        }
    }
    anyhow::ensure!(
        wrong.is_empty(),
        "{anomaly:?} on {}: {} of 4 levels disagree with the known answer (README, step {}):\n{}",
        db.engine(),
        wrong.len(),
        if db.engine() == isolation_levels::Engine::Postgres {
            1
        } else {
            5
        },
        wrong.join("\n")
    );
    Ok(())
}

/// Wait until `waiting_for_lock` says session `id` waits for a lock (bounded).
pub async fn until_waiting(
    observer: &mut isolation_levels::scheduler::Conn,
    id: u64,
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + BOUND;
    while !isolation_levels::scheduler::look(observer, id).await? {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "session {id} is blocked by another's row lock, but waiting_for_lock never said so \
             within {BOUND:?} (README, step 1)"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Some session of this Postgres database is queued for another's lock.
pub const SOMEONE_WAITS_FOR_A_LOCK: &str = "SELECT count(*) > 0 FROM pg_stat_activity \
     WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0";

/// Some session of this Postgres database waits for a safe snapshot (a
/// DEFERRABLE transaction that has not started reading yet).
pub const SOMEONE_WAITS_FOR_A_SAFE_SNAPSHOT: &str = "SELECT count(*) > 0 FROM pg_stat_activity \
     WHERE datname = current_database() AND wait_event = 'SafeSnapshot'";

/// Settle `task`: wait until `condition` (one of the queries above) holds or
/// the task has finished, whichever comes first, within [`BOUND`]. Whether
/// the condition was seen is the answer; asked of the database, never timed.
pub async fn seen_before_it_finished<T>(
    pool: &sqlx::PgPool,
    task: &tokio::task::JoinHandle<T>,
    condition: &'static str,
    what: &str,
) -> anyhow::Result<bool> {
    let deadline = std::time::Instant::now() + BOUND;
    while !task.is_finished() {
        let seen: bool = sqlx::query_scalar(condition).fetch_one(pool).await?;
        if seen {
            return Ok(true);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "{what} neither finished nor was seen waiting within {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(false)
}
