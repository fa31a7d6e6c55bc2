//! Step 4, hidden: a deadlock is retried like a serialization failure.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use isolation_levels::{RetryPolicy, run_serializable};
use sqlx::PgConnection;

use crate::support;

/// A body whose first attempt is chosen as a deadlock victim (40P01) runs
/// again and commits on its second attempt.
#[tokio::test]
async fn step4_hidden_a_deadlock_victim_is_retried_and_commits() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    sqlx::raw_sql("CREATE TABLE done (id int)")
        .execute(pool)
        .await?;
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
    };
    let calls = AtomicU32::new(0);
    let committed = run_serializable(pool, &policy, async |tx: &mut PgConnection| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            sqlx::raw_sql("DO $$ BEGIN RAISE EXCEPTION 'victim' USING ERRCODE = '40P01'; END $$")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::raw_sql("INSERT INTO done VALUES (1)")
            .execute(&mut *tx)
            .await?;
        Ok(7)
    })
    .await;
    assert!(
        matches!(committed, Ok(c) if c.value == 7 && c.attempts == 2),
        "a 40P01 deadlock is retryable: expected the second attempt to commit, got \
         {committed:?} (README, step 4)"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM done")
        .fetch_one(pool)
        .await?;
    assert_eq!(rows, 1, "only the committed attempt's row is there");
    Ok(())
}
