//! Step 2 — dual write: a trigger keeps `profile_jsonb` in step with every
//! write of `profile`; text that is not JSON never fails the writer, it is
//! quarantined.

use std::time::Duration;

use column_migration::{MigrationError, Phase};
use serde_json::json;

use crate::support::{Lab, assert_writers_never_waited, long_transaction};

/// Inserts, updates and NULLs written the old way (text) land in the JSONB
/// column too, in the same statement.
#[tokio::test]
async fn step2_inserts_and_updates_write_both_columns() -> anyhow::Result<()> {
    let lab = Lab::seeded(50, 0).await?;
    let migration = lab.migration();
    migration.expand().await?;
    migration.install_dual_write().await?;
    assert_eq!(migration.phase().await?, Phase::DualWriting);

    let id: i64 = sqlx::query_scalar(
        "INSERT INTO customers (email, profile) VALUES ('new@example.com', $1) RETURNING id",
    )
    .bind(r#"{"plan": "pro", "seats": 3}"#)
    .fetch_one(lab.pool())
    .await?;
    assert_eq!(
        lab.json_of(id).await?,
        Some(json!({"plan": "pro", "seats": 3})),
        "README step 2: an insert fills profile_jsonb"
    );
    sqlx::query("UPDATE customers SET profile = $1 WHERE id = 7")
        .bind(r#"{"plan": "team"}"#)
        .execute(lab.pool())
        .await?;
    assert_eq!(
        lab.json_of(7).await?,
        Some(json!({"plan": "team"})),
        "README step 2: an update of profile updates profile_jsonb"
    );
    sqlx::query("UPDATE customers SET profile = NULL WHERE id = 7")
        .execute(lab.pool())
        .await?;
    assert_eq!(
        lab.json_of(7).await?,
        None,
        "a NULL profile means a NULL profile_jsonb"
    );
    Ok(())
}

/// Text that is not JSON is written as before (the old application must not
/// start failing, not even on a row written invalid twice), gets a NULL
/// profile_jsonb, and is quarantined with its latest text and Postgres's
/// reason.
#[tokio::test]
async fn step2_invalid_json_never_fails_the_writer_and_is_quarantined() -> anyhow::Result<()> {
    let lab = Lab::seeded(50, 0).await?;
    let migration = lab.migration();
    migration.expand().await?;
    migration.install_dual_write().await?;

    let id: i64 = sqlx::query_scalar(
        "INSERT INTO customers (email, profile) VALUES ('bad@example.com', $1) RETURNING id",
    )
    .bind("{plan: pro")
    .fetch_one(lab.pool())
    .await
    .map_err(|e| anyhow::anyhow!("README step 2: invalid JSON must not fail the writer: {e}"))?;
    // Row 3 is written invalid twice: the second write must not trip over the
    // first one's quarantine entry.
    for text in ["not json at all", r#"{"plan": "#] {
        sqlx::query("UPDATE customers SET profile = $1 WHERE id = 3")
            .bind(text)
            .execute(lab.pool())
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "README step 2: invalid JSON must not fail the writer, not even on a row \
                     already quarantined (writing {text:?}): {e}"
                )
            })?;
    }

    let text: Option<String> = sqlx::query_scalar("SELECT profile FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(lab.pool())
        .await?;
    assert_eq!(
        text.as_deref(),
        Some("{plan: pro"),
        "the text is kept as written"
    );
    assert_eq!(lab.json_of(id).await?, None);
    assert_eq!(
        lab.json_of(3).await?,
        None,
        "the old JSON of row 3 must not linger"
    );

    let quarantined = migration.quarantined().await?;
    let ids: Vec<i64> = quarantined.iter().map(|q| q.customer_id).collect();
    assert_eq!(ids, vec![3, id], "README step 2: both rows are quarantined");
    assert_eq!(
        (
            quarantined[0].profile.as_str(),
            quarantined[1].profile.as_str()
        ),
        (r#"{"plan": "#, "{plan: pro"),
        "README step 2: the quarantine keeps each row's text byte for byte, and for row 3 \
         the text of its latest write"
    );
    for q in &quarantined {
        assert!(
            q.error.contains("invalid input syntax for type json"),
            "README step 2: each quarantined row keeps Postgres's reason, but row {} says {:?}",
            q.customer_id,
            q.error
        );
    }
    Ok(())
}

/// A quarantined row that is later written with valid JSON gets its
/// profile_jsonb and leaves the quarantine.
#[tokio::test]
async fn step2_a_corrected_row_leaves_the_quarantine() -> anyhow::Result<()> {
    let lab = Lab::seeded(20, 0).await?;
    let migration = lab.migration();
    migration.expand().await?;
    migration.install_dual_write().await?;
    sqlx::query("UPDATE customers SET profile = '{oops' WHERE id = 5")
        .execute(lab.pool())
        .await?;
    assert_eq!(migration.quarantined().await?.len(), 1);
    sqlx::query(r#"UPDATE customers SET profile = '{"fixed": true}' WHERE id = 5"#)
        .execute(lab.pool())
        .await?;
    assert_eq!(lab.json_of(5).await?, Some(json!({"fixed": true})));
    assert_eq!(
        migration.quarantined().await?,
        vec![],
        "README step 2: a corrected row is no longer quarantined"
    );
    Ok(())
}

/// The trigger needs the column: installing it first is refused, not an SQL
/// error halfway through.
#[tokio::test]
async fn step2_the_trigger_cannot_be_installed_before_expand() -> anyhow::Result<()> {
    let lab = Lab::seeded(10, 0).await?;
    match lab.migration().install_dual_write().await {
        Err(MigrationError::WrongPhase { needs, current, .. }) => {
            assert_eq!((needs, current), (Phase::Expanded, Phase::Fresh));
        }
        other => panic!("README step 2: expected WrongPhase before expand, got {other:?}"),
    }
    Ok(())
}

/// CREATE TRIGGER conflicts with writers; behind a long transaction it must
/// back off and retry, never hold the lock queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_the_trigger_is_installed_behind_a_long_transaction_without_stalling_writers()
-> anyhow::Result<()> {
    let lab = Lab::seeded(1_000, 0).await?;
    let migration = lab.migration();
    migration.expand().await?;
    let workload = lab.writers(2, 900).await?;
    let holder = long_transaction(lab.url(), 1_000, Duration::from_millis(2_500)).await?;
    let report = migration.install_dual_write().await?;
    holder.await??;
    let seen = workload.stop().await;
    assert!(
        report.attempts >= 2,
        "README step 2: installing the trigger must time out and retry behind the long \
         transaction; it reported {} attempt(s)",
        report.attempts
    );
    assert_writers_never_waited(&seen, "step 2");
    Ok(())
}
