//! Step 4, hidden: validate's phase check, and rows the comparison must not
//! let through — a row with text but no JSON, and a quarantined row that has
//! JSON all the same.

use column_migration::{Migration, MigrationError, Phase};
use sqlx::{Connection, PgConnection};

use crate::support::Lab;

/// The switch must be refused with `NotValidated`, and the phase stay Backfilled.
async fn assert_switch_refused(migration: &Migration, why: &str) -> anyhow::Result<()> {
    match migration.switch_reads().await {
        Err(MigrationError::NotValidated(_)) => {}
        other => panic!("README step 4: {why}: the switch must be refused, got {other:?}"),
    }
    assert_eq!(migration.phase().await?, Phase::Backfilled);
    Ok(())
}

/// Validate called before the backfill (the trigger installed, no row
/// converted yet) is a step called too early: `WrongPhase`, and nothing done
/// — no constraint added, and the phase does not move on to Backfilled as if
/// the backfill had run.
#[tokio::test]
async fn step4_validate_called_before_the_backfill_is_refused_and_changes_nothing()
-> anyhow::Result<()> {
    let lab = Lab::seeded(200, 0).await?;
    let migration = lab.migration();
    migration.expand().await?;
    migration.install_dual_write().await?;
    match migration.validate().await {
        Err(MigrationError::WrongPhase { needs, current, .. }) => {
            assert_eq!((needs, current), (Phase::Backfilled, Phase::DualWriting));
        }
        other => panic!(
            "README (bad input): a step called too early is refused with WrongPhase; validate \
             before the backfill got {other:?}"
        ),
    }
    assert_eq!(
        migration.phase().await?,
        Phase::DualWriting,
        "README step 4: only a clean validation moves the phase on; a refused one must not \
         record Backfilled for a backfill that never ran"
    );
    assert_eq!(
        lab.constraint_validated().await?,
        None,
        "README: a step called too early does nothing (no constraint added)"
    );
    Ok(())
}

/// A row with valid text but no JSON — restored behind the trigger's back
/// after the backfill passed it, or whose `profile_jsonb` alone was cleared —
/// disagrees: its JSON is not its text parsed. (NULL passes the constraint,
/// so only the row-by-row comparison can find it.) The switch is refused.
#[tokio::test]
async fn step4_a_row_with_text_but_no_json_is_reported_and_the_switch_refused() -> anyhow::Result<()>
{
    let lab = Lab::seeded(500, 0).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;

    // A restore: the row comes back with its text; triggers do not fire.
    let mut restore = PgConnection::connect(lab.url()).await?;
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut restore)
        .await?;
    sqlx::query(
        r#"INSERT INTO customers (id, email, profile)
           VALUES (501, 'restored@example.com', '{"plan": "restored"}')"#,
    )
    .execute(&mut restore)
    .await?;
    restore.close().await?;
    // A write of profile_jsonb alone: the trigger fires on writes of profile only.
    sqlx::query("UPDATE customers SET profile_jsonb = NULL WHERE id = 11")
        .execute(lab.pool())
        .await?;
    assert_eq!(lab.json_of(501).await?, None, "setup: no trigger fired");

    let validation = migration.validate().await?;
    assert_eq!(
        (validation.mismatched, validation.mismatched_ids.clone()),
        (2, vec![11, 501]),
        "README step 4: a row disagrees if its JSON is not its text parsed — rows 11 and 501 \
         have JSON text and NULL JSON (compare with IS DISTINCT FROM: `<>` with a NULL side \
         is NULL, not true): {validation:?}"
    );
    assert!(validation.constraint_validated, "{validation:?}");
    assert!(!validation.is_clean(), "{validation:?}");
    assert_switch_refused(&migration, "rows 11 and 501 have text but no JSON").await
}

/// A quarantined row (text that is not JSON) that has JSON all the same —
/// written into `profile_jsonb` behind the trigger's back — disagrees: its
/// text parsed is NULL, its JSON is not. Being quarantined excuses NULL JSON
/// only. The JSON is an object, so the constraint validates; the comparison
/// must find the row, and the switch is refused.
#[tokio::test]
async fn step4_a_quarantined_row_that_has_json_all_the_same_is_reported() -> anyhow::Result<()> {
    let lab = Lab::seeded(500, 100).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    sqlx::query(r#"UPDATE customers SET profile_jsonb = '{"plan": "guessed"}' WHERE id = 200"#)
        .execute(lab.pool())
        .await?;

    let validation = migration.validate().await?;
    assert_eq!(
        validation.mismatched_ids,
        vec![200],
        "README step 4: row 200's text is not JSON (parsed: NULL) yet it has JSON, so it \
         disagrees, quarantined or not: {validation:?}"
    );
    assert!(
        validation.constraint_validated,
        "an object passes the constraint; only the comparison can find row 200: {validation:?}"
    );
    assert!(!validation.is_clean(), "{validation:?}");
    assert_switch_refused(&migration, "row 200 has JSON its text does not parse to").await
}
