//! Step 3: fencing — one primary's writes, never two (README "Step 3").

use std::time::Duration;

use failover_fencing::app;
use failover_fencing::{FailoverError, fence_old_primary, promote_with_epoch, write_fenced};
use sqlx::Connection;

use crate::support::{self, TIMEOUT, bounded, count, url};

/// Promotion bumps the epoch; a write carrying the old epoch is refused by the
/// new primary and leaves nothing, a write carrying the new one succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_promotion_bumps_the_epoch_and_a_stale_epoch_is_refused() -> anyhow::Result<()> {
    let mut cluster = support::cluster(1).await?;
    cluster.kill(0);
    let epoch = bounded(
        "promote_with_epoch",
        promote_with_epoch(&url(&cluster, 1), TIMEOUT),
    )
    .await??;
    assert_eq!(
        epoch, 2,
        "the schema starts at epoch 1; one promotion makes it 2 (README step 3)"
    );
    let mut conn = cluster.connect(1).await?;
    match bounded("write_fenced", write_fenced(&mut conn, 1, "stale", 10)).await? {
        Err(FailoverError::Fenced { carried, current }) => assert_eq!((carried, current), (1, 2)),
        other => panic!(
            "a write carrying epoch 1 after a promotion to epoch 2 must be Fenced (README step 3), got {other:?}"
        ),
    }
    assert_eq!(count(&cluster, 1, "stale").await?, 0, "nothing written");
    let ack = bounded("write_fenced", write_fenced(&mut conn, 2, "fresh", 10)).await??;
    let stored = app::read_payment(&mut conn, ack.id)
        .await?
        .expect("written");
    assert_eq!(
        (stored.reference.as_str(), stored.epoch),
        ("fresh", 2),
        "stamped with its epoch"
    );
    Ok(())
}

/// The epoch is checked by the write itself: a write racing a promotion's bump
/// waits for it and is refused, where "read the epoch, then write" lets it in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_the_epoch_is_checked_by_the_write_not_before_it() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    // A promotion's bump, caught between its UPDATE and its COMMIT.
    let mut bump = cluster.connect(0).await?;
    let mut tx = bump.begin().await?;
    sqlx::query("UPDATE fencing SET epoch = 2 WHERE id = 1")
        .execute(&mut *tx)
        .await?;

    let mut writer = cluster.connect(0).await?;
    let writer_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut writer)
        .await?;
    let write = tokio::spawn(async move {
        let result = write_fenced(&mut writer, 1, "racing", 10).await;
        (result, writer)
    });
    // Wait until the write is blocked on the epoch row, or has already returned.
    labkit::eventually(
        Duration::from_secs(10),
        "the fenced write to block on the epoch row (or to return)",
        || {
            let finished = write.is_finished();
            let cluster = &cluster;
            async move {
                if finished {
                    return Ok(true);
                }
                let mut watcher = cluster.connect(0).await?;
                let blocked: bool =
                    sqlx::query_scalar("SELECT cardinality(pg_blocking_pids($1)) > 0")
                        .bind(writer_pid)
                        .fetch_one(&mut watcher)
                        .await?;
                Ok(blocked)
            }
        },
    )
    .await?;
    tx.commit().await?;
    let (result, _writer) = bounded("write_fenced", write).await??;
    match result {
        Err(FailoverError::Fenced { carried, current }) => assert_eq!((carried, current), (1, 2)),
        other => panic!(
            "the epoch changed while the write was in flight: the write itself must see it (lock the epoch row \
             in the writing statement) and be Fenced (README step 3), got {other:?}"
        ),
    }
    assert_eq!(count(&cluster, 0, "racing").await?, 0);
    Ok(())
}

/// The old primary frozen, the standby promoted, the old one thawed with stale
/// clients still connected, one of them mid-transaction: once fenced, it
/// refuses every write, ends their sessions, and none of it is ever visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_a_thawed_old_primary_never_accepts_a_stale_write() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    let mut stale = cluster.connect(0).await?;
    let ack = bounded("write_fenced", write_fenced(&mut stale, 1, "before", 10)).await??;
    cluster.wait_caught_up(1).await?;

    // A second stale client, in the middle of a transaction when the primary froze.
    let mut midway = cluster.connect(0).await?;
    sqlx::raw_sql("BEGIN; INSERT INTO payments (reference, amount) VALUES ('midway', 10)")
        .execute(&mut midway)
        .await?;

    cluster.freeze(0);
    let epoch = bounded(
        "promote_with_epoch",
        promote_with_epoch(&url(&cluster, 1), TIMEOUT),
    )
    .await??;
    cluster.thaw(0);
    let fenced = bounded(
        "fence_old_primary",
        fence_old_primary(&url(&cluster, 0), epoch, TIMEOUT),
    )
    .await??;
    assert!(
        fenced.epoch >= epoch,
        "the old primary's epoch is raised: {fenced:?}"
    );
    assert!(
        fenced.sessions_ended >= 2,
        "both stale clients' sessions are ended: {fenced:?}"
    );
    let commit = bounded("COMMIT", sqlx::raw_sql("COMMIT").execute(&mut midway)).await?;
    assert!(
        commit.is_err(),
        "a transaction open on the old primary must never commit once it is fenced: end its session (README step 3)"
    );

    let stale_write = bounded("write_fenced", write_fenced(&mut stale, 1, "stale", 10)).await?;
    assert!(
        stale_write.is_err(),
        "the stale client's write on the fenced old primary must fail (README step 3), got {stale_write:?}"
    );
    let mut fresh = cluster.connect(0).await?;
    let plain = bounded("a plain write", app::write_payment(&mut fresh, "plain", 10)).await?;
    assert!(
        plain.is_err(),
        "a write without any epoch must fail too: the fenced old primary refuses every write, got {plain:?}"
    );
    let with_new_epoch = bounded(
        "write_fenced",
        write_fenced(&mut fresh, epoch, "confused", 10),
    )
    .await?;
    assert!(with_new_epoch.is_err(), "{with_new_epoch:?}");
    // A session that asks for READ WRITE gets past the read-only default: the
    // raised epoch is what refuses its stale write.
    let mut insistent = cluster.connect(0).await?;
    sqlx::raw_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        .execute(&mut insistent)
        .await?;
    match bounded(
        "write_fenced",
        write_fenced(&mut insistent, 1, "insistent", 10),
    )
    .await?
    {
        Err(FailoverError::Fenced { carried, current }) => {
            assert_eq!((carried, current), (1, epoch))
        }
        other => panic!(
            "epoch 1 on an old primary fenced at epoch {epoch}: Fenced by the raised epoch (README step 3), got {other:?}"
        ),
    }
    for reference in ["stale", "plain", "confused", "midway", "insistent"] {
        assert_eq!(
            count(&cluster, 0, reference).await?,
            0,
            "{reference} on the old primary"
        );
        assert_eq!(
            count(&cluster, 1, reference).await?,
            0,
            "{reference} on the new primary"
        );
    }
    // A controller's retry, with an older epoch: harmless, and never lowers it.
    let again = bounded(
        "fence_old_primary",
        fence_old_primary(&url(&cluster, 0), 1, TIMEOUT),
    )
    .await??;
    assert_eq!(
        again.epoch, epoch,
        "fencing again with epoch 1 keeps the old primary at epoch {epoch} (README step 3)"
    );
    let mut new_primary = cluster.connect(1).await?;
    assert!(app::read_payment(&mut new_primary, ack.id).await?.is_some());
    Ok(())
}
