//! Step 1: interleavings you can run, classified from what the engine did.

use isolation_levels::scheduler::{self, Schedule, StepRecord, StepResult};
use isolation_levels::{Anomaly, DbFailure, Level, Outcome, classify, schedule};

use crate::support;

/// A session blocked by another's row lock is seen waiting, and is seen
/// released once the holder commits.
#[tokio::test]
async fn step1_a_session_blocked_by_a_row_lock_is_seen_waiting_then_released() -> anyhow::Result<()>
{
    let (_guard, db) = support::postgres().await?;
    support::probing::a_row_lock_wait_is_seen_then_released(&db).await
}

/// A statement that is slow but waits for no lock (pg_sleep) is never called
/// waiting: slowness is not blocking.
#[tokio::test]
async fn step1_a_slow_statement_that_waits_for_no_lock_is_never_called_waiting()
-> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    support::probing::a_slow_statement_is_never_called_waiting(&db, "SELECT pg_sleep(0.6)").await?;
    // And through the scheduler: a slow step is not a blocked step.
    let run = scheduler::run(
        &db,
        Level::ReadCommitted,
        &Schedule::new()
            .t1("BEGIN")
            .t1("SELECT pg_sleep(0.3)")
            .t1("COMMIT"),
    )
    .await?;
    assert!(
        run.steps.iter().all(|s| !s.blocked),
        "a step that only slept was recorded as waiting for a lock:\n{}",
        run.describe()
    );
    Ok(())
}

/// An idle session, and one that does not exist, are not waiting.
#[tokio::test]
async fn step1_an_idle_session_and_a_missing_one_are_not_waiting() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let mut idle = support::pg(&db).acquire().await?;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *idle)
        .await?;
    let mut obs = support::probing::session(&db).await?;
    assert!(
        !scheduler::look(&mut obs, pid as u64).await?,
        "an idle session is not waiting"
    );
    assert!(
        !scheduler::look(&mut obs, 2_000_000_000).await?,
        "a session id nobody has is not waiting"
    );
    Ok(())
}

/// G0, dirty write, on Postgres at each level, matches the known answer.
#[tokio::test]
async fn step1_dirty_write_g0_matches_postgres_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    support::check_anomaly(&db, Anomaly::DirtyWrite).await
}

/// G1a, aborted read, on Postgres at each level, matches the known answer.
#[tokio::test]
async fn step1_aborted_read_g1a_matches_postgres_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    support::check_anomaly(&db, Anomaly::AbortedRead).await
}

/// G1b, intermediate read, on Postgres at each level, matches the known answer.
#[tokio::test]
async fn step1_intermediate_read_g1b_matches_postgres_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    support::check_anomaly(&db, Anomaly::IntermediateRead).await
}

/// G1c, circular information flow, on Postgres at each level, matches the known answer.
#[tokio::test]
async fn step1_circular_information_flow_g1c_matches_postgres_at_every_level() -> anyhow::Result<()>
{
    let (_guard, db) = support::postgres().await?;
    support::check_anomaly(&db, Anomaly::CircularInformationFlow).await
}

/// OTV, observed transaction vanishes, on Postgres at each level, matches the known answer.
#[tokio::test]
async fn step1_observed_transaction_vanishes_otv_matches_postgres_at_every_level()
-> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    support::check_anomaly(&db, Anomaly::ObservedTransactionVanishes).await
}

/// PMP, predicate-many-preceders, on Postgres at each level, matches the known answer.
#[tokio::test]
async fn step1_predicate_many_preceders_pmp_matches_postgres_at_every_level() -> anyhow::Result<()>
{
    let (_guard, db) = support::postgres().await?;
    support::check_anomaly(&db, Anomaly::PredicateManyPreceders).await
}

/// P4, lost update, on Postgres at each level, matches the known answer.
#[tokio::test]
async fn step1_lost_update_p4_matches_postgres_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    support::check_anomaly(&db, Anomaly::LostUpdate).await
}

/// G-single, read skew, on Postgres at each level, matches the known answer.
#[tokio::test]
async fn step1_read_skew_g_single_matches_postgres_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    support::check_anomaly(&db, Anomaly::ReadSkew).await
}

/// G2-item, write skew, on Postgres at each level, matches the known answer.
#[tokio::test]
async fn step1_write_skew_g2_item_matches_postgres_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    support::check_anomaly(&db, Anomaly::WriteSkew).await
}

/// G2, an anti-dependency cycle over a predicate, on Postgres at each level,
/// matches the known answer.
#[tokio::test]
async fn step1_predicate_write_skew_g2_matches_postgres_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    support::check_anomaly(&db, Anomaly::PredicateWriteSkew).await
}

/// `run` with one more step appended: session 3 did `result`.
fn with_extra_step(
    run: &isolation_levels::Run,
    blocked: bool,
    result: StepResult,
) -> isolation_levels::Run {
    let mut run = run.clone();
    run.steps.push(StepRecord {
        session: 3,
        sql: "-- a step the test added",
        blocked,
        result,
    });
    run
}

fn failure(sqlstate: &str, number: Option<u16>) -> StepResult {
    StepResult::Failed(DbFailure {
        sqlstate: Some(sqlstate.to_string()),
        number,
        message: format!("a {sqlstate} added by the test"),
    })
}

/// Evidence outranks an abort, an abort outranks a wait, and only the engine's
/// concurrency aborts (40001, 40P01, MariaDB's 1020) count as aborts — a lock
/// timeout or a syntax error does not.
#[tokio::test]
async fn step1_classify_ranks_evidence_then_an_engine_abort_then_a_wait() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let lost = scheduler::run(&db, Level::ReadCommitted, &schedule(Anomaly::LostUpdate)).await?;
    assert_eq!(
        classify(Anomaly::LostUpdate, &lost),
        Outcome::Happened,
        "{}",
        lost.describe()
    );
    let also_aborted = with_extra_step(&lost, false, failure("40001", None));
    assert_eq!(
        classify(Anomaly::LostUpdate, &also_aborted),
        Outcome::Happened,
        "the update was lost; another transaction's abort does not undo that: evidence comes \
         first (README, step 1)"
    );
    let clean = scheduler::run(&db, Level::ReadCommitted, &schedule(Anomaly::AbortedRead)).await?;
    assert_eq!(
        classify(Anomaly::AbortedRead, &clean),
        Outcome::PreventedBySnapshot,
        "{}",
        clean.describe()
    );
    let cases = [
        (
            "a lock timeout (55P03)",
            failure("55P03", None),
            Outcome::PreventedBySnapshot,
        ),
        (
            "MariaDB's lock wait timeout (1205)",
            failure("HY000", Some(1205)),
            Outcome::PreventedBySnapshot,
        ),
        (
            "a syntax error (42601)",
            failure("42601", None),
            Outcome::PreventedBySnapshot,
        ),
        (
            "a serialization failure (40001)",
            failure("40001", None),
            Outcome::PreventedByError,
        ),
        (
            "a deadlock (40P01)",
            failure("40P01", None),
            Outcome::PreventedByError,
        ),
        (
            "MariaDB's snapshot check (1020)",
            failure("HY000", Some(1020)),
            Outcome::PreventedByError,
        ),
    ];
    for (what, result, want) in cases {
        let got = classify(
            Anomaly::AbortedRead,
            &with_extra_step(&clean, false, result),
        );
        assert_eq!(
            got, want,
            "a run whose only failure is {what} (README, step 1)"
        );
    }
    let waited = with_extra_step(&clean, true, StepResult::Rows(Vec::new()));
    assert_eq!(
        classify(Anomaly::AbortedRead, &waited),
        Outcome::PreventedByBlocking,
        "a run in which a statement waited for a lock, and nothing else happened (README, step 1)"
    );
    let both = with_extra_step(&waited, false, failure("40001", None));
    assert_eq!(
        classify(Anomaly::AbortedRead, &both),
        Outcome::PreventedByError,
        "a run with a wait and an engine abort: the abort decides (README, step 1)"
    );
    Ok(())
}
