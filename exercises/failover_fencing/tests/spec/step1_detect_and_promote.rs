//! Step 1: detect, promote, re-route (README "Step 1").

use std::time::{Duration, Instant};

use failover_fencing::{
    Detector, DetectorConfig, Directory, FailoverError, Health, Lsn, Monitor, Verdict, check,
    connect_primary, failover, watch_and_failover,
};
use labkit::FaultProxy;

use crate::support::{self, TIMEOUT, bounded, url};

fn config(failures: u32, window: Duration) -> DetectorConfig {
    DetectorConfig {
        check_timeout: Duration::from_millis(300),
        failures,
        window,
    }
}

fn lsn(text: &str) -> Lsn {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is an LSN and must parse (README step 1): {e}"))
}

/// LSNs parse from Postgres's text into numbers, so `9/0 < 10/0` (as text it is
/// not), both halves' limits included, and print back as Postgres prints them.
#[test]
fn step1_an_lsn_is_parsed_from_postgres_text_and_compared_as_a_number() {
    assert_eq!(lsn("0/0"), Lsn(0));
    assert_eq!(lsn("16/B374D848"), Lsn(0x16_B374_D848));
    assert_eq!(lsn("16/b374d848"), Lsn(0x16_B374_D848), "lower-case hex");
    assert!(
        lsn("9/0") < lsn("10/0"),
        "9/0 comes before 10/0 (not as text)"
    );
    assert_eq!(
        lsn("0/FFFFFFFF").0 + 1,
        lsn("1/0").0,
        "the low half is 32 bits"
    );
    assert_eq!(lsn("FFFFFFFF/FFFFFFFF"), Lsn(u64::MAX));
    assert_eq!(
        lsn("00000001/00000000"),
        Lsn(1 << 32),
        "eight digits a half"
    );
    assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
    assert_eq!(Lsn(1 << 32).to_string(), "1/0");
}

/// Text that is not an LSN is refused as BadLsn, never read as a guess: a
/// ninth digit is refused even when it is a leading zero, as Postgres does.
#[test]
fn step1_text_that_is_not_an_lsn_is_refused() {
    for text in [
        "",
        "0",
        "/0",
        "0/",
        "1/2/3",
        "G/0",
        "0/G",
        "+1/0",
        "1/+0",
        "-1/0",
        " 1/0",
        "1/0 ",
        "0x1/0",
        "123456789/0",
        "0/123456789",
        "000000001/0",
        "0/000000001",
    ] {
        match text.parse::<Lsn>() {
            Err(FailoverError::BadLsn(t)) => assert_eq!(t, text),
            other => panic!(
                "{text:?} must be refused as FailoverError::BadLsn (README step 1, fault table), got {other:?}"
            ),
        }
    }
}

/// A detector that cannot work is refused: no timeout, zero failures, zero window.
#[test]
fn step1_a_configuration_that_cannot_work_is_refused() {
    let good = config(1, Duration::from_secs(1));
    assert!(
        Detector::new(good).is_ok(),
        "failures 1 is the smallest that works"
    );
    for bad in [
        DetectorConfig {
            check_timeout: Duration::ZERO,
            ..good
        },
        DetectorConfig {
            failures: 0,
            ..good
        },
        DetectorConfig {
            window: Duration::ZERO,
            ..good
        },
    ] {
        assert!(
            matches!(Detector::new(bad), Err(FailoverError::Config(_))),
            "{bad:?} must be refused as FailoverError::Config (README step 1)"
        );
        assert!(matches!(bad.validate(), Err(FailoverError::Config(_))));
    }
}

/// One failed check is only suspect; exactly `failures` consecutive ones are dead.
#[test]
fn step1_one_failed_check_is_suspect_and_only_n_in_a_row_are_dead() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut d = Detector::new(config(3, Duration::from_secs(10))).expect("valid");
    assert_eq!(d.observe(at(0), true), Verdict::Healthy);
    assert_eq!(
        d.observe(at(100), false),
        Verdict::Suspect { failures: 1 },
        "one failed check must never trigger a failover (README step 1)"
    );
    assert_eq!(d.observe(at(200), false), Verdict::Suspect { failures: 2 });
    assert_eq!(
        d.observe(at(300), false),
        Verdict::Dead,
        "the third consecutive failure, with failures = 3, is dead"
    );
    assert_eq!(d.observe(at(400), false), Verdict::Dead, "and stays dead");
    assert_eq!(
        d.observe(at(500), true),
        Verdict::Healthy,
        "until a check succeeds"
    );
    assert_eq!(d.observe(at(600), false), Verdict::Suspect { failures: 1 });

    let mut one = Detector::new(config(1, Duration::from_secs(10))).expect("valid");
    assert_eq!(
        one.observe(at(0), false),
        Verdict::Dead,
        "failures = 1: the first"
    );
}

/// A success between failures starts the count again from zero.
#[test]
fn step1_a_success_between_failures_starts_the_count_again() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut d = Detector::new(config(3, Duration::from_secs(10))).expect("valid");
    d.observe(at(0), false);
    d.observe(at(100), false);
    assert_eq!(d.observe(at(200), true), Verdict::Healthy);
    assert_eq!(
        d.observe(at(300), false),
        Verdict::Suspect { failures: 1 },
        "failures before a success no longer count (README step 1)"
    );
    assert_eq!(d.observe(at(400), false), Verdict::Suspect { failures: 2 });
    assert_eq!(d.observe(at(500), false), Verdict::Dead);
}

/// The failures that count are those within the window, first to last: exactly
/// the window apart is within, a millisecond more is not.
#[test]
fn step1_failures_must_fall_within_the_window_counted_exactly() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut d = Detector::new(config(3, Duration::from_secs(10))).expect("valid");
    d.observe(at(0), false);
    d.observe(at(5_000), false);
    assert_eq!(
        d.observe(at(10_000), false),
        Verdict::Dead,
        "three failures spanning exactly the window are within it (README step 1)"
    );

    let mut d = Detector::new(config(3, Duration::from_secs(10))).expect("valid");
    d.observe(at(0), false);
    d.observe(at(5_000), false);
    assert_eq!(
        d.observe(at(10_001), false),
        Verdict::Suspect { failures: 2 },
        "the first failure is now older than the window: it no longer counts"
    );
    assert_eq!(
        d.observe(at(15_000), false),
        Verdict::Dead,
        "5.0 s, 10.001 s and 15.0 s fit in 10 s"
    );

    let mut gap = Detector::new(config(3, Duration::from_secs(1))).expect("valid");
    gap.observe(at(0), false);
    gap.observe(at(100), false);
    assert_eq!(
        gap.observe(at(5_000), false),
        Verdict::Suspect { failures: 1 },
        "both earlier failures are older than the window: neither counts"
    );

    let mut thin = Detector::new(config(3, Duration::from_secs(1))).expect("valid");
    for k in 0..10 {
        assert_ne!(
            thin.observe(at(k * 2_000), false),
            Verdict::Dead,
            "failures 2 s apart never fit three in a 1 s window: a flaky link, not a dead primary"
        );
    }
}

/// `check(url, limit)` says Down, and gives up at its timeout rather than
/// waiting for the kernel: the connection and the query share the one bound.
async fn down_within(url: &str, limit: Duration, what: &str) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let health = bounded(&format!("a health check of {what}"), check(url, limit)).await?;
    assert!(
        matches!(health, Health::Down(_)),
        "{what} is down (README step 1), got {health:?}"
    );
    assert!(
        started.elapsed() < limit + Duration::from_secs(2),
        "the check of {what} must give up at its timeout ({limit:?}): took {:?}",
        started.elapsed()
    );
    Ok(())
}

/// A health check tells a primary from a standby, and a stalled server fails
/// within the timeout, whether it stalls before the connection is set up or
/// on the query after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_stalled_primary_fails_its_check_within_the_timeout() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    let limit = Duration::from_millis(300);
    assert_eq!(
        bounded("check", check(&url(&cluster, 0), limit)).await?,
        Health::Primary
    );
    assert_eq!(
        bounded("check", check(&url(&cluster, 1), limit)).await?,
        Health::Standby
    );

    let proxy = FaultProxy::start(cluster.node(0).addr()).await?;
    let through = format!("postgres://postgres@{}/postgres", proxy.addr());
    assert_eq!(
        bounded("check", check(&through, limit)).await?,
        Health::Primary
    );
    proxy.stall();
    down_within(
        &through,
        limit,
        "a primary stalled before the connection is set up",
    )
    .await?;

    // A server that takes the connection, then stalls on the query: for this
    // user, pg_is_in_recovery() resolves to a function that sleeps.
    cluster
        .execute(
            0,
            "CREATE ROLE slowpoke LOGIN; CREATE SCHEMA slow; \
             CREATE FUNCTION slow.pg_is_in_recovery() RETURNS boolean \
               LANGUAGE sql AS 'SELECT pg_sleep(60) IS NULL'; \
             GRANT USAGE ON SCHEMA slow TO slowpoke; \
             ALTER ROLE slowpoke SET search_path = slow, pg_catalog;",
        )
        .await?;
    let slow = format!("postgres://slowpoke@{}/postgres", cluster.node(0).addr());
    down_within(
        &slow,
        limit,
        "a primary stalled on the query after connecting",
    )
    .await?;
    Ok(())
}

/// A brief stall of the primary makes it suspect, never dead; a success clears
/// it; only `failures` stalled checks in a row declare it dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_brief_stall_never_declares_the_primary_dead() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    let proxy = FaultProxy::start(cluster.node(0).addr()).await?;
    let through = format!("postgres://postgres@{}/postgres", proxy.addr());
    let mut monitor = Monitor::new(through, config(3, Duration::from_secs(30)))?;
    assert_eq!(
        bounded("check_once", monitor.check_once()).await?,
        Verdict::Healthy
    );
    proxy.stall();
    assert_eq!(
        bounded("check_once", monitor.check_once()).await?,
        Verdict::Suspect { failures: 1 },
        "one stalled check is suspect, not dead (README step 1)"
    );
    proxy.restore();
    assert_eq!(
        bounded("check_once", monitor.check_once()).await?,
        Verdict::Healthy
    );
    proxy.stall();
    assert_eq!(
        bounded("check_once", monitor.check_once()).await?,
        Verdict::Suspect { failures: 1 },
        "the success in between started the count again"
    );
    assert_eq!(
        bounded("check_once", monitor.check_once()).await?,
        Verdict::Suspect { failures: 2 }
    );
    assert_eq!(
        bounded("check_once", monitor.check_once()).await?,
        Verdict::Dead
    );

    // A standby answering is not a healthy primary.
    let mut wrong = Monitor::new(url(&cluster, 1), config(1, Duration::from_secs(30)))?;
    assert_eq!(
        bounded("check_once", wrong.check_once()).await?,
        Verdict::Dead,
        "a server in recovery is not the primary the monitor watches"
    );
    Ok(())
}

/// Failover promotes the standby that has replayed the most WAL, wherever it
/// is listed, publishes it, and leaves the other standby alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_failover_promotes_the_standby_that_replayed_the_most() -> anyhow::Result<()> {
    for behind in [1, 2] {
        let ahead = 3 - behind;
        let cluster = support::cluster(2).await?;
        cluster.pause_replay(behind).await?;
        let mut conn = cluster.connect(0).await?;
        support::write_acked(&mut conn, "late", 5).await?;
        cluster.wait_caught_up(ahead).await?;
        let expected = cluster.lsns(ahead).await?.replay.expect("a standby");
        let directory = Directory::new(url(&cluster, 0));
        let standbys = vec![url(&cluster, 1), url(&cluster, 2)];
        let promoted = bounded("failover", failover(&standbys, TIMEOUT, &directory)).await??;
        assert_eq!(
            promoted.url,
            url(&cluster, ahead),
            "standby{behind} has not replayed the last writes; standby{ahead} has (README step 1: the highest replayed LSN)"
        );
        assert_eq!(promoted.replayed, Lsn(expected), "the LSN it had replayed");
        assert_eq!(directory.primary(), url(&cluster, ahead), "published");
        assert_eq!(directory.changes(), 1, "published once");
        assert!(!cluster.lsns(ahead).await?.in_recovery, "promoted");
        assert!(
            cluster.lsns(behind).await?.in_recovery,
            "the other standby is left in recovery"
        );
    }
    Ok(())
}

/// With no standby answering, nothing is promoted and nothing published: a
/// primary in the list is not a standby, a dead standby is skipped in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_with_no_standby_to_promote_nothing_is_published() -> anyhow::Result<()> {
    let mut cluster = support::cluster(1).await?;
    cluster.kill(1);
    let directory = Directory::new(url(&cluster, 0));
    let tried = vec![url(&cluster, 1), url(&cluster, 0)];
    match bounded("failover", failover(&tried, TIMEOUT, &directory)).await? {
        Err(FailoverError::NoStandby { tried: t }) => assert_eq!(t, tried),
        other => panic!(
            "a dead standby and a primary leave nothing to promote: expected NoStandby (README fault table), got {other:?}"
        ),
    }
    assert_eq!(directory.changes(), 0, "nothing published");
    assert_eq!(directory.primary(), url(&cluster, 0));
    assert!(!cluster.lsns(0).await?.in_recovery);
    Ok(())
}

/// Clients connect to whichever candidate says it is not in recovery, whatever
/// the list's order; a stalled candidate is skipped within the timeout; no
/// primary at all is NoPrimary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_clients_find_the_primary_by_asking_each_candidate() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    let proxy = FaultProxy::start(cluster.node(0).addr()).await?;
    proxy.stall();
    let stalled = format!("postgres://postgres@{}/postgres", proxy.addr());
    let limit = Duration::from_millis(300);
    let candidates = vec![url(&cluster, 1), stalled.clone(), url(&cluster, 0)];
    let (found, mut conn) =
        bounded("connect_primary", connect_primary(&candidates, limit)).await??;
    assert_eq!(
        found,
        url(&cluster, 0),
        "the standby answers first but is in recovery; the stalled one never answers (README step 1)"
    );
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut conn)
        .await?;
    assert!(!in_recovery, "the connection returned is the primary's");

    let no_primary = vec![url(&cluster, 1), stalled];
    match bounded("connect_primary", connect_primary(&no_primary, limit)).await? {
        Err(FailoverError::NoPrimary { tried }) => assert_eq!(tried, no_primary),
        Ok((url, _)) => panic!("{url} is not a primary: expected NoPrimary"),
        Err(e) => panic!("expected NoPrimary, got {e}"),
    }
    Ok(())
}

/// End to end: the primary dies, the controller notices after exactly its
/// `failures` checks (two checks are not enough, three are), promotes the
/// standby, and a client that re-resolves writes to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_dead_primary_is_replaced_and_clients_resume_on_the_new_one() -> anyhow::Result<()>
{
    let mut cluster = support::cluster(1).await?;
    let old = url(&cluster, 0);
    let directory = Directory::new(old.clone());
    let standbys = vec![url(&cluster, 1)];
    let interval = Duration::from_millis(20);
    let mut monitor = Monitor::new(old.clone(), config(3, Duration::from_secs(30)))?;
    let none = bounded(
        "watch_and_failover",
        watch_and_failover(&mut monitor, &standbys, &directory, interval, 5, TIMEOUT),
    )
    .await??;
    assert_eq!(none, None, "a healthy primary is never failed over");
    assert!(cluster.lsns(1).await?.in_recovery, "nothing promoted");

    cluster.kill(0);
    let mut short = Monitor::new(old.clone(), config(3, Duration::from_secs(30)))?;
    let none = bounded(
        "watch_and_failover",
        watch_and_failover(&mut short, &standbys, &directory, interval, 2, TIMEOUT),
    )
    .await??;
    assert_eq!(
        none, None,
        "two checks of a dead primary are two failures: not yet the three that declare it dead"
    );
    assert!(cluster.lsns(1).await?.in_recovery, "nothing promoted yet");
    let mut fresh = Monitor::new(old.clone(), config(3, Duration::from_secs(30)))?;
    let promoted = bounded(
        "watch_and_failover",
        watch_and_failover(&mut fresh, &standbys, &directory, interval, 3, TIMEOUT),
    )
    .await??
    .ok_or_else(|| {
        anyhow::anyhow!(
            "three checks of a dead primary, failures = 3: it must be declared dead at the third (README step 1)"
        )
    })?;
    assert_eq!(promoted.url, url(&cluster, 1));
    assert_eq!(directory.primary(), url(&cluster, 1));

    let candidates = vec![old, directory.primary()];
    let (found, mut conn) = bounded(
        "connect_primary",
        connect_primary(&candidates, Duration::from_millis(500)),
    )
    .await??;
    assert_eq!(found, url(&cluster, 1));
    support::write_acked(&mut conn, "after", 1).await?;
    Ok(())
}

/// A frozen standby (it accepts connections, answers nothing) is skipped
/// within the timeout, and the other one promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_frozen_standby_is_skipped_not_waited_on() -> anyhow::Result<()> {
    let cluster = support::cluster(2).await?;
    cluster.freeze(1);
    let directory = Directory::new(url(&cluster, 0));
    let standbys = vec![url(&cluster, 1), url(&cluster, 2)];
    let started = tokio::time::Instant::now();
    // Long enough for the promotion itself; a wait on the frozen one would be forever.
    let limit = Duration::from_secs(2);
    let promoted = bounded(
        "failover with a frozen standby listed first",
        failover(&standbys, limit, &directory),
    )
    .await??;
    assert_eq!(promoted.url, url(&cluster, 2));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "asking the frozen standby must give up at the timeout ({limit:?}): took {:?}",
        started.elapsed()
    );
    Ok(())
}

/// A server that is already out of recovery is never chosen, however much it
/// replayed before: only a standby can be promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_server_already_promoted_is_never_chosen() -> anyhow::Result<()> {
    let cluster = support::cluster(2).await?;
    cluster.pause_replay(2).await?;
    let mut conn = cluster.connect(0).await?;
    support::write_acked(&mut conn, "p", 3).await?;
    cluster.wait_caught_up(1).await?;
    // standby1 replayed the most, then left recovery (someone promoted it).
    cluster.promote(1).await?;
    let directory = Directory::new(url(&cluster, 0));
    let standbys = vec![url(&cluster, 1), url(&cluster, 2)];
    let promoted = bounded("failover", failover(&standbys, TIMEOUT, &directory)).await??;
    assert_eq!(
        promoted.url,
        url(&cluster, 2),
        "standby1 is no longer in recovery: only standby2 can be promoted (README step 1)"
    );
    Ok(())
}

/// A promotion that fails (this user may not call pg_promote) is an error, and
/// nothing is published: clients must never be sent to a server still in recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_promotion_that_fails_publishes_nothing() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    cluster.execute(0, "CREATE ROLE watcher LOGIN").await?;
    cluster.wait_caught_up(1).await?;
    let watcher = format!("postgres://watcher@{}/postgres", cluster.node(1).addr());
    let directory = Directory::new(url(&cluster, 0));
    let result = bounded("failover", failover(&[watcher], TIMEOUT, &directory)).await?;
    assert!(
        result.is_err(),
        "pg_promote is for superusers only: the promotion fails, got {result:?}"
    );
    assert_eq!(
        directory.changes(),
        0,
        "publish only after the promotion succeeded (README step 1)"
    );
    assert!(cluster.lsns(1).await?.in_recovery);
    Ok(())
}
