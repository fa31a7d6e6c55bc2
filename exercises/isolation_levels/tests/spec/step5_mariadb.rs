//! Step 5: the same schedules and fixes on MariaDB, where InnoDB answers
//! differently.

use isolation_levels::seats::tally;
use isolation_levels::{
    Anomaly, AtomicUpdate, BuyError, Engine, ForUpdate, Gate, Inventory, RepeatableReadRetry,
    schema, server_facts,
};

use crate::step2_lost_update::refused_purchase;
use crate::support::buying::{assert_never_oversells, bad_input, boundary, race_two};
use crate::support::{self, BOUND};

/// On MariaDB too, a session blocked by a row lock is seen waiting, and seen
/// released once the holder commits.
#[tokio::test]
async fn step5_a_session_blocked_by_a_row_lock_on_mariadb_is_seen_waiting_then_released()
-> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::probing::a_row_lock_wait_is_seen_then_released(&db).await
}

/// On MariaDB, a statement that only sleeps is never called waiting.
#[tokio::test]
async fn step5_a_slow_statement_on_mariadb_is_never_called_waiting() -> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::probing::a_slow_statement_is_never_called_waiting(&db, "SELECT SLEEP(0.6)").await
}

/// The server facts name the engine and version, and report
/// innodb_snapshot_isolation as the server has it (nothing on Postgres).
#[tokio::test]
async fn step5_server_facts_report_the_version_and_snapshot_isolation_as_they_are()
-> anyhow::Result<()> {
    let (_my_guard, maria) = support::mariadb().await?;
    let facts = server_facts(&maria).await?;
    let version: String = sqlx::query_scalar("SELECT @@version")
        .fetch_one(support::my(&maria))
        .await?;
    let on: i64 = sqlx::query_scalar("SELECT @@innodb_snapshot_isolation + 0")
        .fetch_one(support::my(&maria))
        .await?;
    assert_eq!(
        (
            facts.engine,
            facts.version.as_str(),
            facts.snapshot_isolation
        ),
        (Engine::MariaDb, version.as_str(), Some(on != 0)),
        "server_facts on MariaDB (README, step 5)"
    );
    let (_pg_guard, pg) = support::postgres().await?;
    let facts = server_facts(&pg).await?;
    assert_eq!(facts.engine, Engine::Postgres);
    assert!(
        facts.version.starts_with("PostgreSQL"),
        "Postgres's version(): {}",
        facts.version
    );
    assert_eq!(
        facts.snapshot_isolation, None,
        "Postgres has no such switch"
    );
    Ok(())
}

/// REPEATABLE READ + retry loses the update on MariaDB exactly when
/// innodb_snapshot_isolation is off, and safe_on says so.
#[tokio::test]
async fn step5_repeatable_read_alone_is_safe_on_mariadb_only_with_snapshot_isolation()
-> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    let facts = server_facts(&db).await?;
    schema::add_event(&db, 1, 1).await?;
    let results = race_two(&db, &RepeatableReadRetry::default(), 1).await?;
    let (available, sold) = tally(&db, 1).await?;
    let oversold = sold > 1;
    assert_eq!(
        oversold,
        facts.snapshot_isolation != Some(true),
        "on MariaDB with innodb_snapshot_isolation {:?}, two buyers of the last seat at \
         REPEATABLE READ gave {results:?} ({sold} sold, {available} left) (README, step 5)",
        facts.snapshot_isolation
    );
    assert_eq!(
        RepeatableReadRetry::safe_on(&facts),
        !oversold,
        "safe_on({facts:?}) must say whether the fix held, and here it {} (README, step 5)",
        if oversold { "oversold" } else { "held" }
    );
    Ok(())
}

/// With innodb_snapshot_isolation on, REPEATABLE READ + retry holds on
/// MariaDB (the loser's update fails with 1020 and is retried); server_facts
/// sees the switch and safe_on trusts it.
#[tokio::test]
async fn step5_with_snapshot_isolation_on_repeatable_read_refuses_the_lost_update_on_mariadb()
-> anyhow::Result<()> {
    let (_guard, db) = support::mariadb_with_snapshot_isolation().await?;
    let facts = server_facts(&db).await?;
    assert_eq!(
        facts.snapshot_isolation,
        Some(true),
        "server_facts must report the session's @@innodb_snapshot_isolation (README, step 5)"
    );
    assert!(
        RepeatableReadRetry::safe_on(&facts),
        "with snapshot isolation on, REPEATABLE READ + retry is safe on MariaDB: {facts:?}"
    );
    schema::add_event(&db, 1, 1).await?;
    let results = race_two(&db, &RepeatableReadRetry::default(), 1).await?;
    let (bought, sold_out) = (
        results.iter().filter(|r| r.is_ok()).count(),
        results
            .iter()
            .filter(|r| matches!(r, Err(BuyError::SoldOut { available: 0 })))
            .count(),
    );
    assert_eq!(
        (bought, sold_out),
        (1, 1),
        "with snapshot isolation on, the loser's update fails with error 1020, a concurrency \
         abort to retry; retried, it sees the seat gone: SoldOut. Got {results:?} (README, step 5)"
    );
    assert_eq!(
        tally(&db, 1).await?,
        (0, 1),
        "with snapshot isolation on, the second buyer's update is refused (error 1020), it \
         retries and sees the seat gone; got {results:?} (README, step 5)"
    );
    Ok(())
}

/// safe_on is true on Postgres, and on MariaDB only when the snapshot check
/// is known to be on.
#[test]
fn step5_safe_on_trusts_repeatable_read_only_where_it_refuses_lost_updates() {
    let facts = |engine, snapshot_isolation| isolation_levels::ServerFacts {
        engine,
        version: String::new(),
        snapshot_isolation,
    };
    for (engine, switch, want) in [
        (Engine::Postgres, None, true),
        (Engine::MariaDb, Some(true), true),
        (Engine::MariaDb, Some(false), false),
        (Engine::MariaDb, None, false),
    ] {
        assert_eq!(
            RepeatableReadRetry::safe_on(&facts(engine, switch)),
            want,
            "safe_on({engine}, innodb_snapshot_isolation {switch:?}) (README, step 5)"
        );
    }
}

/// On MariaDB, fifty buyers of twenty seats never oversell with the atomic
/// UPDATE or with FOR UPDATE.
#[tokio::test]
async fn step5_the_atomic_update_and_for_update_never_oversell_on_mariadb() -> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    assert_never_oversells(&db, &AtomicUpdate, 1).await?;
    assert_never_oversells(&db, &ForUpdate, 2).await
}

/// On MariaDB, FOR UPDATE holds a lock that a shared lock request cannot get
/// while the buyer decides.
#[tokio::test]
async fn step5_for_update_on_mariadb_holds_an_exclusive_row_lock_while_the_buyer_decides()
-> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    schema::add_event(&db, 1, 5).await?;
    let (gate, held) = Gate::hold();
    let buyer = {
        let db = db.clone();
        tokio::spawn(async move { ForUpdate.buy(&db, 1, 2, &gate).await })
    };
    assert!(
        held.reached().await,
        "ForUpdate never called gate.after_read() on MariaDB"
    );
    let probe =
        sqlx::query("SELECT available FROM seats WHERE event_id = 1 LOCK IN SHARE MODE NOWAIT")
            .execute(support::my(&db))
            .await;
    held.release();
    let number = probe
        .as_ref()
        .err()
        .and_then(|e| e.as_database_error())
        .and_then(|d| d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .map(|e| e.number());
    assert_eq!(
        number,
        Some(1205),
        "while the buyer decides, its row must be locked FOR UPDATE (a shared NOWAIT lock \
         from another session should fail with 1205); got {probe:?} (README, step 5)"
    );
    let purchase = labkit::within(BOUND, "the held buyer", buyer).await???;
    assert_eq!(purchase.remaining, 3);
    Ok(())
}

/// On MariaDB each fix sells exactly what is left, refuses one more, and
/// refuses bad quantities and unknown events, changing nothing.
#[tokio::test]
async fn step5_the_fixes_keep_their_boundaries_and_refuse_bad_input_on_mariadb()
-> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    boundary(&db, &AtomicUpdate, 1).await?;
    boundary(&db, &ForUpdate, 2).await?;
    bad_input(&db, &AtomicUpdate, 3).await?;
    bad_input(&db, &ForUpdate, 4).await?;
    let none = AtomicUpdate.buy(&db, 1, 1, &Gate::open()).await;
    assert!(
        matches!(none, Err(BuyError::SoldOut { available: 0 })),
        "{none:?}"
    );
    Ok(())
}

/// G0, dirty write, on MariaDB at each level, matches the known answer.
#[tokio::test]
async fn step5_dirty_write_g0_matches_mariadb_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::check_anomaly(&db, Anomaly::DirtyWrite).await
}

/// G1a, aborted read, on MariaDB at each level, matches the known answer.
#[tokio::test]
async fn step5_aborted_read_g1a_matches_mariadb_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::check_anomaly(&db, Anomaly::AbortedRead).await
}

/// G1b, intermediate read, on MariaDB at each level, matches the known answer.
#[tokio::test]
async fn step5_intermediate_read_g1b_matches_mariadb_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::check_anomaly(&db, Anomaly::IntermediateRead).await
}

/// G1c, circular information flow, on MariaDB at each level, matches the known answer.
#[tokio::test]
async fn step5_circular_information_flow_g1c_matches_mariadb_at_every_level() -> anyhow::Result<()>
{
    let (_guard, db) = support::mariadb().await?;
    support::check_anomaly(&db, Anomaly::CircularInformationFlow).await
}

/// OTV, observed transaction vanishes, on MariaDB at each level, matches the known answer.
#[tokio::test]
async fn step5_observed_transaction_vanishes_otv_matches_mariadb_at_every_level()
-> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::check_anomaly(&db, Anomaly::ObservedTransactionVanishes).await
}

/// PMP, predicate-many-preceders, on MariaDB at each level, matches the known answer.
#[tokio::test]
async fn step5_predicate_many_preceders_pmp_matches_mariadb_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::check_anomaly(&db, Anomaly::PredicateManyPreceders).await
}

/// P4, lost update, on MariaDB at each level, matches the known answer: at
/// REPEATABLE READ it happens where Postgres aborts (unless snapshot isolation is on).
#[tokio::test]
async fn step5_lost_update_p4_matches_mariadb_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::check_anomaly(&db, Anomaly::LostUpdate).await
}

/// G-single, read skew, on MariaDB at each level, matches the known answer.
#[tokio::test]
async fn step5_read_skew_g_single_matches_mariadb_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::check_anomaly(&db, Anomaly::ReadSkew).await
}

/// G2-item, write skew, on MariaDB at each level, matches the known answer.
#[tokio::test]
async fn step5_write_skew_g2_item_matches_mariadb_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::check_anomaly(&db, Anomaly::WriteSkew).await
}

/// G2, an anti-dependency cycle over a predicate, on MariaDB at each level,
/// matches the known answer.
#[tokio::test]
async fn step5_predicate_write_skew_g2_matches_mariadb_at_every_level() -> anyhow::Result<()> {
    let (_guard, db) = support::mariadb().await?;
    support::check_anomaly(&db, Anomaly::PredicateWriteSkew).await
}

/// On MariaDB too, a failure recording the purchase is returned as it is and
/// takes the seats' change with it.
#[tokio::test]
async fn step5_a_failure_recording_the_purchase_undoes_the_seats_on_mariadb() -> anyhow::Result<()>
{
    let (_guard, db) = support::mariadb().await?;
    sqlx::raw_sql(
        "CREATE TRIGGER refuse BEFORE INSERT ON purchases FOR EACH ROW \
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'purchases are closed'",
    )
    .execute(support::my(&db))
    .await?;
    refused_purchase(&db, &AtomicUpdate, 1, "45000").await?;
    refused_purchase(&db, &ForUpdate, 2, "45000").await
}

/// With innodb_snapshot_isolation on, every schedule matches the known answer
/// for the switch: 1020 is an engine abort like 40001.
#[tokio::test]
async fn step5_with_snapshot_isolation_on_every_schedule_matches_the_known_answer()
-> anyhow::Result<()> {
    let (_guard, db) = support::mariadb_with_snapshot_isolation().await?;
    let mut wrong = Vec::new();
    for anomaly in Anomaly::ALL {
        if let Err(e) = support::check_anomaly(&db, anomaly).await {
            wrong.push(format!("{e:#}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
}
