//! Step 5, hidden — request ids are deduplicated in the same transaction as the
//! upsert, in linearizable mode too.

use distributed_counter::Mode;

use crate::support::{Cluster, Outcome};

/// An increment whose commit to the shared store fails is not acknowledged;
/// and since its request id is claimed in the same transaction, rolled back
/// with it, a retry of the same request — at another node — applies it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_a_linearizable_increment_whose_commit_fails_is_not_acknowledged_and_its_retry_applies()
-> anyhow::Result<()> {
    let cluster = Cluster::start(2, Mode::Linearizable).await?;
    // A deferred constraint trigger runs at COMMIT: every statement of the
    // increment succeeds, then the commit itself fails.
    sqlx::raw_sql(
        "CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'injected failure at commit'; END $$;
         CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT OR UPDATE ON shared_counters
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();",
    )
    .execute(cluster.shared_db()?.pool())
    .await?;
    let (outcome, body) = cluster.increment(0, "flaky", 6, "commit-fails").await;
    assert_eq!(
        outcome,
        Outcome::Indeterminate,
        "README: an increment is answered 200 only once its transaction has committed, and \
         this commit failed: {body:?}"
    );
    let read = cluster.read(1, "flaky", None).await?;
    assert_eq!(
        read.status,
        404,
        "the rolled-back increment is nowhere: {}",
        read.text()
    );

    sqlx::raw_sql("DROP TRIGGER fail_at_commit ON shared_counters")
        .execute(cluster.shared_db()?.pool())
        .await?;
    let (outcome, body) = cluster.increment(1, "flaky", 6, "commit-fails").await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["value"].as_i64())),
        (Outcome::Acked, Some(6)),
        "README step 5: request ids are deduplicated in the same transaction as the upsert, so \
         the retry of an increment that was rolled back applies it: {body:?}"
    );
    assert_eq!(cluster.values("flaky").await?, vec![6, 6], "applied once");
    Ok(())
}
