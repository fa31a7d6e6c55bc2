//! Step 5, hidden: the contract drops the migration's scaffolding, not the
//! record of the bad data.

use column_migration::schema::seeded_invalid;
use column_migration::workload::{Read, read_profile};

use crate::support::Lab;

/// After the contract the old column is gone and the quarantine is the only
/// place left with the text of the bad rows: every one of them is still
/// there, byte for byte with its reason — those in the table before the
/// migration and one the application wrote during it.
#[tokio::test]
async fn step5_after_the_contract_the_quarantine_still_holds_every_bad_text() -> anyhow::Result<()>
{
    let lab = Lab::seeded(1_000, 100).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    sqlx::query("UPDATE customers SET profile = '{written during the migration' WHERE id = 7")
        .execute(lab.pool())
        .await?;
    let validation = migration.validate().await?;
    assert!(validation.is_clean(), "{validation:?}");
    migration.switch_reads().await?;
    migration.contract().await?;
    assert_eq!(
        lab.column("profile").await?.map(|c| c.0),
        Some("jsonb".to_string()),
        "the old text column is gone"
    );

    let quarantined = migration.quarantined().await.map_err(|e| {
        anyhow::anyhow!(
            "README: bad text stays in the quarantine after the contract (the contract drops the \
             trigger, the functions and the old column, not the quarantine): {e}"
        )
    })?;
    let listed: Vec<(i64, String)> = quarantined
        .iter()
        .map(|q| (q.customer_id, q.profile.clone()))
        .collect();
    let mut expected: Vec<(i64, String)> = vec![(7, "{written during the migration".to_string())];
    expected.extend(
        (1..=1_000)
            .filter(|id| seeded_invalid(*id, 100))
            .map(|id| (id, format!(r#"{{"id": {id}, "plan": "#))),
    );
    assert_eq!(
        listed, expected,
        "README (bad input): nothing lost — the text stays in profile until the contract and in \
         the quarantine after it"
    );
    assert!(
        quarantined
            .iter()
            .all(|q| q.error.contains("invalid input syntax for type json")),
        "README: each keeps its reason: {quarantined:?}"
    );
    assert_eq!(
        read_profile(lab.pool(), 7).await?,
        Read::New(None),
        "the row itself reads NULL JSON"
    );
    Ok(())
}
