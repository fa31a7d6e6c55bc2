//! Step 4: read your writes with reads on a standby (README "Step 4").

use std::time::Duration;

use failover_fencing::app::{self, Payment};
use failover_fencing::{Lsn, ReadFrom, ReadPolicy, read_after_write, write_with_token};
use labkit_cluster::PgCluster;

use crate::support::{self, bounded, url};

/// The candidate's read on standby 1 (primary 0), bounded.
async fn read(
    cluster: &PgCluster,
    token: Lsn,
    id: i64,
    max_wait: Duration,
) -> anyhow::Result<(Option<Payment>, ReadFrom)> {
    Ok(bounded(
        "read_after_write",
        read_after_write(
            &url(cluster, 1),
            &url(cluster, 0),
            token,
            id,
            policy(max_wait),
        ),
    )
    .await??)
}

fn policy(max_wait: Duration) -> ReadPolicy {
    ReadPolicy {
        max_wait,
        poll: Duration::from_millis(10),
    }
}

/// With the standby's replay paused, a plain standby read misses the write
/// just made; the token sends the read to the primary after a bounded wait,
/// and it sees the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_read_after_a_write_sees_it_while_the_standby_lags() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    cluster.pause_replay(1).await?;
    let mut primary = cluster.connect(0).await?;
    let (ack, token) = bounded(
        "write_with_token",
        write_with_token(&mut primary, "mine", 10),
    )
    .await??;
    let mut standby = cluster.connect(1).await?;
    assert_eq!(
        app::read_payment(&mut standby, ack.id).await?,
        None,
        "the stale read this step prevents: the paused standby does not have the write"
    );
    let started = tokio::time::Instant::now();
    let max_wait = Duration::from_millis(300);
    let (payment, from) = read(&cluster, token, ack.id, max_wait).await?;
    assert_eq!(
        payment.map(|p| p.reference),
        Some("mine".to_string()),
        "a client that just wrote must read its write (README step 4)"
    );
    assert_eq!(
        from,
        ReadFrom::Primary,
        "the standby lags past the bound: the primary answers"
    );
    assert!(
        started.elapsed() < max_wait + Duration::from_secs(3),
        "the wait for the standby is bounded by max_wait ({max_wait:?}): took {:?}",
        started.elapsed()
    );
    Ok(())
}

/// A standby that has replayed the write serves the read: reads go to the
/// standby for scale, not to the primary every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_standby_that_caught_up_serves_the_read() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    let mut primary = cluster.connect(0).await?;
    let (ack, token) = bounded(
        "write_with_token",
        write_with_token(&mut primary, "mine", 10),
    )
    .await??;
    let (payment, from) = read(&cluster, token, ack.id, Duration::from_secs(10)).await?;
    assert_eq!(payment.map(|p| p.id), Some(ack.id));
    assert_eq!(
        from,
        ReadFrom::Standby,
        "the standby replays the write within the wait: it serves the read (README step 4)"
    );
    Ok(())
}

/// The boundary, both sides: a standby whose replay position equals the token
/// is fresh enough; one byte short is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_standby_exactly_at_the_token_serves_it_and_one_byte_short_does_not()
-> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    cluster.pause_replay(1).await?;
    let replayed = cluster.lsns(1).await?.replay.expect("a standby");
    let mut primary = cluster.connect(0).await?;
    let ack = app::write_payment(&mut primary, "boundary", 10).await?;
    let short = Duration::from_millis(100);
    let (_, at) = read(&cluster, Lsn(replayed), ack.id, short).await?;
    assert_eq!(
        at,
        ReadFrom::Standby,
        "replayed == token: the standby has everything the token asks for (README step 4: at least the token)"
    );
    let (_, past) = read(&cluster, Lsn(replayed + 1), ack.id, short).await?;
    assert_eq!(
        past,
        ReadFrom::Primary,
        "replayed == token - 1: not fresh enough"
    );
    Ok(())
}

/// The token is the primary's position after the commit: past where the WAL
/// stood before the write, and a standby that reaches it has the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_the_token_is_the_position_after_the_commit() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    let before = cluster.lsns(0).await?.current.expect("a primary");
    let mut primary = cluster.connect(0).await?;
    let (ack, token) = bounded(
        "write_with_token",
        write_with_token(&mut primary, "mine", 10),
    )
    .await??;
    assert!(
        token.0 > before,
        "the write moved the WAL from {before}; the token {token} must be past it (README step 4)"
    );
    labkit::eventually(
        Duration::from_secs(10),
        "the standby to replay up to the token",
        || async { Ok(cluster.lsns(1).await?.replay.is_some_and(|r| r >= token.0)) },
    )
    .await?;
    let mut standby = cluster.connect(1).await?;
    assert!(
        app::read_payment(&mut standby, ack.id).await?.is_some(),
        "a standby at the token has the write"
    );
    Ok(())
}

/// The read waits for the standby rather than looking once: replay paused when
/// the read starts and resumed while it waits, the standby serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_the_read_waits_for_a_standby_that_catches_up_within_max_wait() -> anyhow::Result<()>
{
    let cluster = support::cluster(1).await?;
    cluster.pause_replay(1).await?;
    let mut primary = cluster.connect(0).await?;
    let (ack, token) = bounded(
        "write_with_token",
        write_with_token(&mut primary, "mine", 10),
    )
    .await??;
    let (standby, primary_url) = (url(&cluster, 1), url(&cluster, 0));
    let read = tokio::spawn(async move {
        read_after_write(
            &standby,
            &primary_url,
            token,
            ack.id,
            policy(Duration::from_secs(15)),
        )
        .await
    });
    // Long enough for a read that looks only once to have looked; far inside max_wait.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.resume_replay(1).await?;
    let (payment, from) = bounded("read_after_write", read).await???;
    assert_eq!(payment.map(|p| p.id), Some(ack.id));
    assert_eq!(
        from,
        ReadFrom::Standby,
        "the standby caught up within max_wait: it serves the read (README step 4: poll until max_wait)"
    );
    Ok(())
}

/// A standby that is down is a standby that lags: the read goes to the primary
/// instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_dead_standby_sends_the_read_to_the_primary() -> anyhow::Result<()> {
    let mut cluster = support::cluster(1).await?;
    let mut primary = cluster.connect(0).await?;
    let (ack, token) = bounded(
        "write_with_token",
        write_with_token(&mut primary, "mine", 10),
    )
    .await??;
    cluster.kill(1);
    let (payment, from) = read(&cluster, token, ack.id, Duration::from_millis(300)).await?;
    assert_eq!(payment.map(|p| p.id), Some(ack.id));
    assert_eq!(
        from,
        ReadFrom::Primary,
        "no standby to read from: the primary answers (README fault table)"
    );
    Ok(())
}
