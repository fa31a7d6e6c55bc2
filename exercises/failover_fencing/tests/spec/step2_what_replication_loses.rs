//! Step 2: what asynchronous replication loses, and the unknown outcome of a
//! synchronous commit that never answered (README "Step 2").

use std::time::Duration;

use failover_fencing::{CommitOutcome, reconcile, settle, write_once};

use crate::support::{self, TIMEOUT, bounded, count, url};

/// The commit timeout the tests give write_once: long enough for a loopback
/// commit, far shorter than a commit waiting for a standby that is cut off.
const COMMIT_TIMEOUT: Duration = Duration::from_millis(500);

/// Asynchronous replication: writes acknowledged after the link was cut are
/// gone once the primary dies, and reconcile names exactly those, no others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_an_async_failover_loses_exactly_the_writes_the_standby_never_got()
-> anyhow::Result<()> {
    let mut cluster = support::cluster(1).await?;
    let mut conn = cluster.connect(0).await?;
    let safe = support::write_acked(&mut conn, "safe", 5).await?;
    cluster.wait_caught_up(1).await?;
    cluster.link(1).cut();
    let lost = support::write_acked(&mut conn, "lost", 5).await?;
    drop(conn);
    support::crash_and_promote(&mut cluster, 1).await?;

    let acknowledged: Vec<_> = safe.iter().chain(&lost).cloned().collect();
    let found = bounded(
        "reconcile",
        reconcile(&acknowledged, &url(&cluster, 1), TIMEOUT),
    )
    .await??;
    assert_eq!(found.checked, 10);
    assert_eq!(
        found.missing, lost,
        "the five writes acknowledged after the link was cut are on no surviving server (README step 2)"
    );
    let reversed: Vec<_> = acknowledged.iter().rev().cloned().collect();
    let found = bounded(
        "reconcile",
        reconcile(&reversed, &url(&cluster, 1), TIMEOUT),
    )
    .await??;
    let lost_reversed: Vec<_> = lost.iter().rev().cloned().collect();
    assert_eq!(
        found.missing, lost_reversed,
        "missing comes in the order the acknowledged writes were given"
    );
    let nothing = bounded("reconcile", reconcile(&safe, &url(&cluster, 1), TIMEOUT)).await??;
    assert!(nothing.missing.is_empty(), "{:?}", nothing.missing);
    Ok(())
}

/// The same schedule with synchronous replication at `level`: writes after the
/// cut never return (each is Unknown), no acknowledged write is lost, and each
/// unknown write, lost with its primary, is settled exactly once on the new one.
async fn synchronous_schedule(level: &str) -> anyhow::Result<()> {
    let mut cluster = support::cluster(1).await?;
    cluster.set_synchronous("*", level).await?;
    let mut conn = cluster.connect(0).await?;
    let safe = support::write_acked(&mut conn, "safe", 5).await?;
    if level == "remote_apply" {
        // The standby had applied each write when its COMMIT returned.
        let mut standby = cluster.connect(1).await?;
        for ack in &safe {
            let seen = failover_fencing::app::read_payment(&mut standby, ack.id).await?;
            assert!(
                seen.is_some(),
                "at remote_apply a read on the standby sees {} as soon as its COMMIT returned",
                ack.reference
            );
        }
    }
    drop(conn);
    cluster.link(1).cut();
    let mut unknown = Vec::new();
    for k in 0..3 {
        let reference = format!("waiting-{k}");
        let outcome = bounded(
            "write_once",
            write_once(&url(&cluster, 0), &reference, 10, COMMIT_TIMEOUT),
        )
        .await?;
        assert!(
            matches!(outcome, CommitOutcome::Unknown(_)),
            "at synchronous_commit = {level}, a COMMIT waiting for a cut-off standby has no answer: \
             Unknown, not {outcome:?} (README step 2)"
        );
        unknown.push((reference, outcome));
    }
    support::crash_and_promote(&mut cluster, 1).await?;

    let found = bounded("reconcile", reconcile(&safe, &url(&cluster, 1), TIMEOUT)).await??;
    assert!(
        found.missing.is_empty(),
        "at synchronous_commit = {level} no acknowledged write is lost: {:?}",
        found.missing
    );
    for (reference, outcome) in &unknown {
        let settled = bounded(
            "settle",
            settle(&url(&cluster, 1), reference, 10, outcome, TIMEOUT),
        )
        .await??;
        assert!(
            settled.written_now,
            "{reference} died with the old primary: settle writes it again"
        );
        assert_eq!(
            count(&cluster, 1, reference).await?,
            1,
            "{reference} exactly once"
        );
    }
    Ok(())
}

/// `synchronous_commit = on` (the standby has flushed it): nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_at_synchronous_commit_on_no_acknowledged_write_is_lost() -> anyhow::Result<()> {
    synchronous_schedule("on").await
}

/// `remote_write` (the standby has it in memory): the primary's crash loses nothing acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_at_remote_write_no_acknowledged_write_is_lost_when_the_primary_dies()
-> anyhow::Result<()> {
    synchronous_schedule("remote_write").await
}

/// `remote_apply` (the standby has replayed it): nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_at_remote_apply_no_acknowledged_write_is_lost() -> anyhow::Result<()> {
    synchronous_schedule("remote_apply").await
}

/// A COMMIT that never answered is Unknown, and it did commit on the primary:
/// settling it once the standby is back finds it and writes no second payment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_a_commit_whose_answer_never_came_is_unknown_and_settled_without_a_second_payment()
-> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    cluster.set_synchronous("*", "remote_apply").await?;
    cluster.link(1).cut();
    let outcome = bounded(
        "write_once",
        write_once(&url(&cluster, 0), "maybe", 10, COMMIT_TIMEOUT),
    )
    .await?;
    assert!(
        matches!(outcome, CommitOutcome::Unknown(_)),
        "the COMMIT was sent and no answer came: Unknown, not {outcome:?} (README step 2)"
    );
    // The standby comes back; the transaction's wait ends and it becomes visible.
    cluster.link(1).restore();
    labkit::eventually(
        Duration::from_secs(20),
        "the unanswered COMMIT to finish on the primary once its standby is back",
        || async { Ok(count(&cluster, 0, "maybe").await? == 1) },
    )
    .await?;
    let settled = bounded(
        "settle",
        settle(&url(&cluster, 0), "maybe", 10, &outcome, TIMEOUT),
    )
    .await??;
    assert!(
        !settled.written_now,
        "the write had committed: settling it must not write it again (README step 2)"
    );
    assert_eq!(
        count(&cluster, 0, "maybe").await?,
        1,
        "an unknown outcome retried blindly is a second payment"
    );
    Ok(())
}

/// The client's connection dies while its COMMIT waits for the standby (an
/// operator, a pooler or a restart ends the backend): the client sees an
/// error, yet the transaction committed. The outcome is Unknown, not Failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_a_commit_whose_connection_died_is_unknown_and_did_commit() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    cluster.set_synchronous("*", "remote_apply").await?;
    cluster.link(1).cut();
    let primary = url(&cluster, 0);
    let write = tokio::spawn(async move {
        write_once(&primary, "terminated", 10, Duration::from_secs(30)).await
    });
    labkit::eventually(
        Duration::from_secs(10),
        "the COMMIT to wait for its standby (wait_event SyncRep)",
        || async {
            let mut conn = cluster.connect(0).await?;
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
            )
            .fetch_one(&mut conn)
            .await?;
            Ok(waiting == 1 || write.is_finished())
        },
    )
    .await?;
    cluster
        .execute(
            0,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
        )
        .await?;
    let outcome = bounded("write_once", write).await??;
    assert!(
        matches!(outcome, CommitOutcome::Unknown(_)),
        "the connection died after the COMMIT was sent: Unknown, not {outcome:?} (README step 2)"
    );
    assert_eq!(
        count(&cluster, 0, "terminated").await?,
        1,
        "it had committed locally: a client that called it failed would pay twice on retry"
    );
    Ok(())
}

/// A write the database refuses (amount 0 breaks a CHECK, or a deferred
/// trigger refuses the COMMIT) is Failed and leaves nothing; so is a write the
/// server never took before any COMMIT was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_a_write_the_server_refuses_is_failed_and_nothing_is_written() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    let refused = bounded(
        "write_once",
        write_once(&url(&cluster, 0), "zero", 0, COMMIT_TIMEOUT),
    )
    .await?;
    assert!(
        matches!(refused, CommitOutcome::Failed(_)),
        "amount 0 violates CHECK (amount > 0): Failed, not {refused:?} (README fault table)"
    );
    assert_eq!(count(&cluster, 0, "zero").await?, 0);
    let again = bounded(
        "settle",
        settle(&url(&cluster, 0), "zero", 0, &refused, TIMEOUT),
    )
    .await?;
    assert!(
        again.is_err(),
        "settling a refused write fails again: {again:?}"
    );
    assert_eq!(count(&cluster, 0, "zero").await?, 0);

    // Refused at COMMIT itself: a deferred constraint trigger.
    cluster
        .execute(
            0,
            "CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.reference = 'doomed' THEN RAISE EXCEPTION 'doomed payment'; END IF; \
             RETURN NULL; END $$; \
             CREATE CONSTRAINT TRIGGER doomed AFTER INSERT ON payments \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_doomed();",
        )
        .await?;
    let at_commit = bounded(
        "write_once",
        write_once(&url(&cluster, 0), "doomed", 10, COMMIT_TIMEOUT),
    )
    .await?;
    assert!(
        matches!(at_commit, CommitOutcome::Failed(_)),
        "the server answered the COMMIT with an error and rolled back: Failed, not {at_commit:?}"
    );
    assert_eq!(count(&cluster, 0, "doomed").await?, 0);

    let proxy = labkit::FaultProxy::start(cluster.node(0).addr()).await?;
    proxy.stall();
    let through = format!("postgres://postgres@{}/postgres", proxy.addr());
    let unreachable = bounded(
        "write_once",
        write_once(&through, "never", 10, COMMIT_TIMEOUT),
    )
    .await?;
    assert!(
        matches!(unreachable, CommitOutcome::Failed(_)),
        "no COMMIT was ever sent to a server that never answered: Failed, not {unreachable:?}"
    );
    assert_eq!(count(&cluster, 0, "never").await?, 0);
    let settled = bounded(
        "settle",
        settle(&url(&cluster, 0), "never", 10, &unreachable, TIMEOUT),
    )
    .await??;
    assert!(
        settled.written_now,
        "a Failed write left nothing: settling it writes it"
    );
    assert_eq!(count(&cluster, 0, "never").await?, 1);
    Ok(())
}

/// A COMMIT that returns is Committed with the row's id, and settling it writes
/// nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_a_commit_that_returns_is_acknowledged_with_its_id() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    let outcome = bounded(
        "write_once",
        write_once(&url(&cluster, 0), "fine", 10, COMMIT_TIMEOUT),
    )
    .await?;
    let CommitOutcome::Committed(ack) = &outcome else {
        panic!("a plain commit on a healthy primary is Committed, got {outcome:?}");
    };
    assert_eq!(ack.reference, "fine");
    let mut conn = cluster.connect(0).await?;
    let stored = failover_fencing::app::read_payment(&mut conn, ack.id).await?;
    assert_eq!(stored.map(|p| p.reference), Some("fine".to_string()));
    let settled = bounded(
        "settle",
        settle(&url(&cluster, 0), "fine", 10, &outcome, TIMEOUT),
    )
    .await??;
    assert_eq!((settled.id, settled.written_now), (ack.id, false));
    assert_eq!(count(&cluster, 0, "fine").await?, 1);
    Ok(())
}
