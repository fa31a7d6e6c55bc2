//! Step 4 — validate and switch: a CHECK constraint added NOT VALID and then
//! validated; a row-by-row comparison of both columns; reads move to the new
//! column only when everything agrees.

use std::time::Duration;

use column_migration::workload::{Read, read_profile};
use column_migration::{CONSTRAINT, MigrationError, Phase};
use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::support::Lab;

/// Change row `id`'s old column behind the trigger's back (as a bug, a manual
/// fix or a restore could), so the two columns disagree.
async fn corrupt(lab: &Lab, id: i64, text: Option<&str>) -> anyhow::Result<()> {
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

/// Write row `id` again the application's way (its own text, through the
/// trigger), which brings its JSON back in line with its text.
async fn rewrite(lab: &Lab, id: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE customers SET profile = profile WHERE id = $1")
        .bind(id)
        .execute(lab.pool())
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
    assert_eq!(
        lab.constraint_validated().await?,
        Some(true),
        "README step 4: the constraint {CONSTRAINT} exists and is validated"
    );
    assert_eq!(migration.phase().await?, Phase::Validated);
    Ok(())
}

/// Rows whose columns disagree — other text, or no text but JSON — are
/// reported by id, and the switch is refused.
#[tokio::test]
async fn step4_a_row_that_disagrees_is_reported_and_the_switch_refused() -> anyhow::Result<()> {
    let lab = Lab::seeded(500, 0).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    corrupt(&lab, 7, Some(r#"{"plan": "changed behind the trigger"}"#)).await?;
    corrupt(&lab, 9, None).await?; // text cleared: its JSON is stale now
    let validation = migration.validate().await?;
    assert_eq!(
        (validation.mismatched, validation.mismatched_ids.clone()),
        (2, vec![7, 9]),
        "README step 4: the row-by-row comparison must find row 7 (other text) and row 9 (NULL \
         text, yet JSON): {validation:?}"
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
    corrupt(&lab, 5, Some(r#"{"stale": true}"#)).await?;
    assert_eq!(
        read_profile(lab.pool(), 5).await?,
        Read::New(Some(json!({"id": 5, "plan": "team", "tags": ["t5"]}))),
        "README step 4: after the switch, reads come from profile_jsonb"
    );
    Ok(())
}

/// The switch goes by the *last* validation: a dirty one after a clean one
/// withdraws it (the phase goes back to Backfilled), and the switch is refused
/// until a validation is clean again.
#[tokio::test]
async fn step4_a_dirty_validation_after_a_clean_one_withdraws_it_and_the_switch_is_refused()
-> anyhow::Result<()> {
    let lab = Lab::seeded(300, 0).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    let clean = migration.validate().await?;
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!(migration.phase().await?, Phase::Validated);

    corrupt(&lab, 7, Some(r#"{"plan": "changed behind the trigger"}"#)).await?;
    let dirty = migration.validate().await?;
    assert_eq!(
        dirty.mismatched_ids,
        vec![7],
        "README step 4: validating again finds row 7: {dirty:?}"
    );
    assert_eq!(
        migration.phase().await?,
        Phase::Backfilled,
        "README step 4: a dirty validation withdraws the clean one before it"
    );
    match migration.switch_reads().await {
        Err(MigrationError::NotValidated(_)) => {}
        other => panic!(
            "README step 4: switch_reads must refuse when the last validation was dirty, even \
             after an earlier clean one; got {other:?}"
        ),
    }

    rewrite(&lab, 7).await?;
    let again = migration.validate().await?;
    assert!(
        again.is_clean(),
        "README step 4: fix the row, validate again: {again:?}"
    );
    migration.switch_reads().await?;
    assert_eq!(migration.phase().await?, Phase::Switched);
    Ok(())
}

/// A row whose JSON breaks the constraint (`[1]`, written straight into
/// profile_jsonb behind the trigger's back) makes VALIDATE fail. validate()
/// reports the row rather than failing, and the constraint — added NOT VALID
/// and committed before the VALIDATE, in its own transaction — stays in place,
/// not validated. Once the row is fixed, validating again finishes the job.
#[tokio::test]
async fn step4_a_row_that_breaks_the_constraint_leaves_it_not_valid_until_fixed()
-> anyhow::Result<()> {
    let lab = Lab::seeded(500, 0).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    // The trigger fires on writes of `profile` only: this one goes behind it.
    sqlx::query("UPDATE customers SET profile_jsonb = '[1]' WHERE id = 7")
        .execute(lab.pool())
        .await?;
    let validation = labkit::within(
        Duration::from_secs(20),
        "validate with a row that breaks the constraint",
        migration.validate(),
    )
    .await?
    .map_err(|e| {
        anyhow::anyhow!(
            "README step 4: a row that breaks the constraint is a finding of the validation, \
             not an error: {e}"
        )
    })?;
    assert_eq!(
        (
            validation.mismatched_ids.clone(),
            validation.constraint_validated,
            validation.is_clean()
        ),
        (vec![7], false, false),
        "README step 4: row 7's JSON is not its text parsed, and the constraint cannot be \
         validated: {validation:?}"
    );
    assert_eq!(
        lab.constraint_validated().await?,
        Some(false),
        "README step 4: the constraint is added NOT VALID and committed before VALIDATE runs, so \
         a failed VALIDATE leaves it in place, not validated (added without NOT VALID, or \
         validated in the ADD's transaction, it is gone, after scanning the table under \
         ACCESS EXCLUSIVE)"
    );
    assert_eq!(migration.phase().await?, Phase::Backfilled);

    rewrite(&lab, 7).await?;
    let again = migration.validate().await?;
    assert!(
        again.is_clean(),
        "README step 4: fix the row, validate again: {again:?}"
    );
    assert_eq!(
        lab.constraint_validated().await?,
        Some(true),
        "README step 4: the second validation validates the constraint"
    );
    assert_eq!(migration.phase().await?, Phase::Validated);
    Ok(())
}

/// Valid JSON that is not an object (`[1, 2]`, `"just a string"`, `null`) is
/// bad data, like text that is not JSON: NULL JSON and a quarantine entry,
/// whether it was in the table before the migration or is written once the
/// constraint exists. It never makes VALIDATE fail, and never fails a writer.
#[tokio::test]
async fn step4_json_that_is_not_an_object_is_quarantined_and_never_fails_a_writer()
-> anyhow::Result<()> {
    let lab = Lab::seeded(100, 0).await?;
    sqlx::query("UPDATE customers SET profile = '[1, 2]' WHERE id = 3")
        .execute(lab.pool())
        .await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    let validation = migration.validate().await?;
    assert!(
        validation.is_clean() && validation.quarantined == 1,
        "README step 4: row 3 holds a JSON array, which the backfill must quarantine (JSON \
         NULL) for the constraint to validate: {validation:?}"
    );

    // The constraint is validated: a JSON string or null stored as JSON would
    // now fail the writer's statement.
    for (id, text) in [(4_i64, r#""just a string""#), (5, "null")] {
        sqlx::query("UPDATE customers SET profile = $1 WHERE id = $2")
            .bind(text)
            .bind(id)
            .execute(lab.pool())
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "README: bad data fails nobody, yet writing {text} (JSON, not an object) \
                     to row {id} failed once the constraint existed: {e}"
                )
            })?;
    }
    for id in [3, 4, 5] {
        assert_eq!(
            lab.json_of(id).await?,
            None,
            "README step 2: row {id}'s JSON is not an object, so profile_jsonb is NULL"
        );
    }
    let quarantined = migration.quarantined().await?;
    let listed: Vec<(i64, &str)> = quarantined
        .iter()
        .map(|q| (q.customer_id, q.profile.as_str()))
        .collect();
    assert_eq!(
        listed,
        vec![(3, "[1, 2]"), (4, r#""just a string""#), (5, "null")],
        "README step 2: JSON that is not an object is quarantined, byte for byte"
    );
    assert!(
        quarantined.iter().all(|q| !q.error.is_empty()),
        "each quarantined row says why: {quarantined:?}"
    );
    assert!(
        migration.validate().await?.is_clean(),
        "README step 4: quarantined rows agree"
    );
    Ok(())
}
