//! Step 4 — validate and switch: a CHECK constraint added NOT VALID and then
//! validated; a row-by-row comparison of both columns; reads move to the new
//! column only when everything agrees.

use column_migration::workload::{Read, read_profile};
use column_migration::{CONSTRAINT, MigrationError, Phase};
use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::support::Lab;

/// Change row `id`'s old column behind the trigger's back (as a bug, a manual
/// fix or a restore could), so the two columns disagree.
async fn corrupt(lab: &Lab, id: i64, text: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(lab.url()).await?;
    sqlx::query("SET session_replication_role = replica") // triggers do not fire
        .execute(&mut conn)
        .await?;
    sqlx::query("UPDATE customers SET profile = $1 WHERE id = $2")
        .bind(text)
        .bind(id)
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// After a clean backfill, validation finds every row agreeing, counts the
/// quarantined ones, and leaves the constraint validated.
#[tokio::test]
async fn step4_validation_finds_both_columns_agree_and_the_constraint_validated()
-> anyhow::Result<()> {
    let lab = Lab::seeded(2_000, 40).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    let validation = migration.validate().await?;
    assert_eq!(
        (
            validation.rows,
            validation.with_json,
            validation.quarantined,
            validation.mismatched
        ),
        (2_000, 1_950, 50, 0),
        "README step 4: {validation:?}"
    );
    assert!(validation.is_clean(), "{validation:?}");
    let validated: Option<bool> =
        sqlx::query_scalar("SELECT convalidated FROM pg_constraint WHERE conname = $1")
            .bind(CONSTRAINT)
            .fetch_optional(lab.pool())
            .await?;
    assert_eq!(
        validated,
        Some(true),
        "README step 4: the constraint {CONSTRAINT} exists and is validated"
    );
    assert_eq!(migration.phase().await?, Phase::Validated);
    Ok(())
}

/// A row whose columns disagree is reported by id, and the switch is refused.
#[tokio::test]
async fn step4_a_row_that_disagrees_is_reported_and_the_switch_refused() -> anyhow::Result<()> {
    let lab = Lab::seeded(500, 0).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    corrupt(&lab, 7, r#"{"plan": "changed behind the trigger"}"#).await?;
    let validation = migration.validate().await?;
    assert_eq!(
        (validation.mismatched, validation.mismatched_ids.clone()),
        (1, vec![7]),
        "README step 4: the row-by-row comparison must find row 7: {validation:?}"
    );
    assert!(!validation.is_clean());
    match migration.switch_reads().await {
        Err(MigrationError::NotValidated(_)) => {}
        other => {
            panic!("README step 4: switching with a disagreeing row must be refused, got {other:?}")
        }
    }
    assert_ne!(migration.phase().await?, Phase::Switched);
    Ok(())
}

/// Invalid text counts as agreeing only if it is quarantined: a bad row that
/// slipped past the quarantine is a disagreement.
#[tokio::test]
async fn step4_invalid_text_must_be_quarantined_to_count_as_agreeing() -> anyhow::Result<()> {
    let lab = Lab::seeded(500, 100).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    let listed: Vec<i64> = migration
        .quarantined()
        .await?
        .iter()
        .map(|q| q.customer_id)
        .collect();
    assert_eq!(
        listed,
        vec![100, 200, 300, 400, 500],
        "README step 4: quarantined rows are listed"
    );
    sqlx::query("DELETE FROM customers_profile_quarantine WHERE customer_id = 300")
        .execute(lab.pool())
        .await?;
    let validation = migration.validate().await?;
    assert_eq!(
        validation.mismatched_ids,
        vec![300],
        "README step 4: invalid text that is not quarantined must be reported: {validation:?}"
    );
    Ok(())
}

/// Before the switch the application reads the old column; after it, the new
/// one (so a later change to the old column no longer shows).
#[tokio::test]
async fn step4_after_the_switch_the_application_reads_the_new_column() -> anyhow::Result<()> {
    let lab = Lab::seeded(100, 0).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    assert!(matches!(
        read_profile(lab.pool(), 5).await?,
        Read::Old(Some(_))
    ));
    match migration.switch_reads().await {
        Err(MigrationError::NotValidated(_)) => {}
        other => {
            panic!("README step 4: switching before validation must be refused, got {other:?}")
        }
    }
    assert!(migration.validate().await?.is_clean());
    migration.switch_reads().await?;
    assert_eq!(migration.phase().await?, Phase::Switched);
    corrupt(&lab, 5, r#"{"stale": true}"#).await?;
    assert_eq!(
        read_profile(lab.pool(), 5).await?,
        Read::New(Some(json!({"id": 5, "plan": "team", "tags": ["t5"]}))),
        "README step 4: after the switch, reads come from profile_jsonb"
    );
    Ok(())
}
