//! Step 5: the failures nobody notices, checked after a failover (README "Step 5").

use failover_fencing::app::{self, Ack};
use failover_fencing::{ChecklistReport, post_failover_checklist};
use labkit_cluster::PgCluster;
use sqlx::{Connection, PgConnection};

use crate::support::{self, TIMEOUT, bounded, url};

/// The candidate's checklist on node `i`, bounded.
async fn checklist(
    cluster: &PgCluster,
    i: usize,
    acknowledged: &[Ack],
    previous_timeline: u32,
) -> anyhow::Result<ChecklistReport> {
    Ok(bounded(
        "post_failover_checklist",
        post_failover_checklist(&url(cluster, i), acknowledged, previous_timeline, TIMEOUT),
    )
    .await??)
}

async fn insert_id(conn: &mut PgConnection, reference: &str) -> anyhow::Result<i64> {
    Ok(app::write_payment(conn, reference, 10).await?.id)
}

/// After losing more writes than the sequence logs ahead, the new primary's
/// sequence hands out an id already acknowledged; the checklist moves it past
/// the highest acknowledged id, exactly, and the next payment gets the one after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_after_a_lossy_failover_no_acknowledged_id_is_handed_out_again() -> anyhow::Result<()>
{
    let mut cluster = support::cluster(1).await?;
    let mut conn = cluster.connect(0).await?;
    let mut acked = support::write_acked(&mut conn, "safe", 3).await?;
    cluster.wait_caught_up(1).await?;
    cluster.link(1).cut();
    // More than the 32 values a sequence logs ahead.
    acked.extend(support::write_acked(&mut conn, "lost", 40).await?);
    drop(conn);
    support::crash_and_promote(&mut cluster, 1).await?;
    let highest = acked.iter().map(|a| a.id).max().expect("writes");

    // The silent failure, shown: a new payment would reuse a lost payment's id.
    let mut conn = cluster.connect(1).await?;
    let mut tx = conn.begin().await?;
    let reused: i64 = sqlx::query_scalar(
        "INSERT INTO payments (reference, amount) VALUES ('probe', 1) RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.rollback().await?;
    assert!(
        acked.iter().any(|a| a.id == reused),
        "the test expects the rewound sequence to reuse an acknowledged id; got {reused}, highest acknowledged {highest}"
    );

    let report = checklist(&cluster, 1, &acked, 1).await?;
    assert_eq!(report.sequence.sequence, "public.payments_id_seq");
    assert_eq!(report.sequence.next_before, reused + 1, "{report:?}");
    assert_eq!(report.sequence.highest_acknowledged, highest);
    assert!(report.sequence.advanced, "{report:?}");
    assert_eq!(
        report.sequence.next_after,
        highest + 1,
        "past the highest acknowledged id, and no further (README step 5)"
    );
    let next = insert_id(&mut conn, "after").await?;
    assert_eq!(
        next,
        highest + 1,
        "the first payment after the checklist gets the id after every acknowledged one"
    );
    Ok(())
}

/// The sequence is moved past the highest stored id too (a payment committed
/// but never acknowledged), and never moved back when it is already ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_the_sequence_goes_past_stored_ids_too_and_never_back() -> anyhow::Result<()> {
    let cluster = support::cluster(0).await?;
    let mut conn = cluster.connect(0).await?;
    let all = support::write_acked(&mut conn, "p", 10).await?;
    let acked: Vec<Ack> = all[..5].to_vec();
    // Four ids handed out and never used (rolled back, say): the sequence is
    // ahead of every row, at 15.
    for _ in 0..4 {
        sqlx::query("SELECT nextval('payments_id_seq')")
            .execute(&mut conn)
            .await?;
    }

    let report = checklist(&cluster, 0, &acked, 1).await?;
    assert!(
        !report.sequence.advanced,
        "the sequence is already past every id: leave it (README step 5), got {report:?}"
    );
    assert_eq!(report.sequence.next_before, 15);
    assert_eq!(report.sequence.next_after, 15, "never moved back");
    assert_eq!(report.sequence.highest_stored, 10);
    assert_eq!(
        insert_id(&mut conn, "next").await?,
        15,
        "never moved back to just past the rows (11)"
    );

    // Rewind it by hand, as a lossy failover would: behind both what was
    // acknowledged (5) and what is stored (15).
    sqlx::query("SELECT setval('payments_id_seq', 3)")
        .execute(&mut conn)
        .await?;
    let report = checklist(&cluster, 0, &acked, 1).await?;
    assert_eq!(report.sequence.next_before, 4);
    assert!(report.sequence.advanced);
    assert_eq!(
        report.sequence.next_after, 16,
        "past the highest stored id (15), not only the highest acknowledged (5)"
    );
    assert_eq!(insert_id(&mut conn, "after").await?, 16);

    // The boundary: nextval would hand out exactly the highest stored id (16).
    sqlx::query("SELECT setval('payments_id_seq', 16, false)")
        .execute(&mut conn)
        .await?;
    let report = checklist(&cluster, 0, &acked, 1).await?;
    assert_eq!(
        report.sequence.next_before, 16,
        "last_value 16 not yet called: nextval hands out 16 itself"
    );
    assert!(
        report.sequence.advanced,
        "the next id would be one already stored: advance (README step 5)"
    );
    assert_eq!(report.sequence.next_after, 17);
    assert_eq!(insert_id(&mut conn, "edge").await?, 17);
    Ok(())
}

/// An UNLOGGED table comes back empty on the promoted standby, and the report
/// names it; a logged table that is merely empty is not news.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_unlogged_tables_that_came_back_empty_are_reported() -> anyhow::Result<()> {
    let mut cluster = support::cluster(1).await?;
    cluster
        .execute(
            0,
            "INSERT INTO quotes_cache VALUES ('EUR', 1.08), ('GBP', 1.27), ('JPY', 0.0067)",
        )
        .await?;
    cluster
        .execute(
            0,
            "CREATE SCHEMA audit; CREATE UNLOGGED TABLE audit.sessions (id int); \
             INSERT INTO audit.sessions VALUES (1)",
        )
        .await?;
    let mut conn = cluster.connect(0).await?;
    let acked = support::write_acked(&mut conn, "p", 2).await?;
    drop(conn);
    cluster.wait_caught_up(1).await?;
    support::crash_and_promote(&mut cluster, 1).await?;
    let report = checklist(&cluster, 1, &acked, 1).await?;
    assert_eq!(
        report.empty_unlogged,
        ["audit.sessions", "public.quotes_cache"],
        "both unlogged tables had rows on the old primary and have none here, sorted by qualified \
         name, in every schema; refunds is logged (README step 5)"
    );
    Ok(())
}

/// The report says which timeline the new primary writes on and whether it
/// moved: a promotion starts timeline 2; a primary never promoted stays on 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_the_report_says_whether_the_timeline_moved() -> anyhow::Result<()> {
    let mut cluster = support::cluster(1).await?;
    let unchanged = checklist(&cluster, 0, &[], 1).await?;
    assert_eq!(
        (unchanged.timeline, unchanged.timeline_advanced),
        (1, false),
        "a primary never promoted is on the timeline it started on: not advanced (README step 5)"
    );
    support::crash_and_promote(&mut cluster, 1).await?;
    let report = checklist(&cluster, 1, &[], 1).await?;
    assert_eq!((report.timeline, report.previous_timeline), (2, 1));
    assert!(report.timeline_advanced, "{report:?}");
    let confused = checklist(&cluster, 1, &[], 3).await?;
    assert!(
        !confused.timeline_advanced,
        "timeline 2 after timeline 3 went backwards, not forwards: {confused:?}"
    );
    Ok(())
}
