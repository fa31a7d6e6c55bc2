//! Step 3, hidden: what the backfill keeps of the bad rows that were in the
//! table before the migration.

use column_migration::schema::seeded_invalid;

use crate::support::Lab;

/// The text [`column_migration::schema::seed`] writes for an invalid row `id`.
fn seeded_bad_text(id: i64) -> String {
    format!(r#"{{"id": {id}, "plan": "#)
}

/// Text that is not JSON and was in the table before the migration is
/// quarantined by the backfill byte for byte and with Postgres's own reason,
/// exactly as the trigger does for a new write; its row keeps the text and
/// gets NULL JSON.
#[tokio::test]
async fn step3_the_backfill_quarantines_old_bad_text_byte_for_byte_with_postgres_reason()
-> anyhow::Result<()> {
    let lab = Lab::seeded(600, 50).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;

    let quarantined = migration.quarantined().await?;
    let listed: Vec<(i64, &str)> = quarantined
        .iter()
        .map(|q| (q.customer_id, q.profile.as_str()))
        .collect();
    let expected_text: Vec<(i64, String)> = (1..=600)
        .filter(|id| seeded_invalid(*id, 50))
        .map(|id| (id, seeded_bad_text(id)))
        .collect();
    let expected: Vec<(i64, &str)> = expected_text
        .iter()
        .map(|(id, text)| (*id, text.as_str()))
        .collect();
    assert_eq!(
        listed, expected,
        "README: text that is not JSON, already in the table, is kept byte for byte in the \
         quarantine by the backfill"
    );
    for q in &quarantined {
        assert!(
            q.error.contains("invalid input syntax for type json"),
            "README: the backfill quarantines text that is not JSON with the reason — \
             Postgres's own message, as the trigger does — but row {} says {:?}",
            q.customer_id,
            q.error
        );
    }

    let text: Option<String> = sqlx::query_scalar("SELECT profile FROM customers WHERE id = 50")
        .fetch_one(lab.pool())
        .await?;
    assert_eq!(
        text.as_deref(),
        Some(seeded_bad_text(50).as_str()),
        "README: the text stays in profile until the contract"
    );
    assert_eq!(
        lab.json_of(50).await?,
        None,
        "README: the row's JSON is NULL"
    );
    Ok(())
}
