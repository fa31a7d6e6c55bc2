//! PgCluster against the machine's real Postgres binaries: replication flows
//! through the links, each control does what it says, and nothing outlives the
//! cluster.

use std::time::Duration;

use labkit_cluster::{ClusterConfig, PgCluster, is_running};

async fn count(cluster: &PgCluster, i: usize) -> anyhow::Result<i64> {
    let mut conn = cluster.connect(i).await?;
    Ok(sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut conn)
        .await?)
}

/// Writes on the primary reach both standbys; a cut link holds one back until
/// restored; paused replay receives WAL without applying it; a promoted standby
/// takes writes; and dropping the cluster leaves no process and no directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_replicates_obeys_its_controls_and_leaves_nothing_behind() -> anyhow::Result<()> {
    let cluster = PgCluster::start(ClusterConfig {
        standbys: 2,
        ..ClusterConfig::default()
    })
    .await?;
    cluster
        .execute(0, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        .await?;
    cluster.wait_caught_up(1).await?;
    cluster.wait_caught_up(2).await?;
    assert_eq!(count(&cluster, 1).await?, 1);
    assert_eq!(count(&cluster, 2).await?, 1);

    // A cut link: standby 1 stops receiving, standby 2 does not.
    cluster.link(1).cut();
    cluster.execute(0, "INSERT INTO t VALUES (2)").await?;
    cluster.wait_caught_up(2).await?;
    let primary = cluster.lsns(0).await?.current.expect("a primary");
    let behind = cluster.lsns(1).await?;
    assert!(behind.replay.expect("a standby") < primary, "{behind:?}");
    cluster.link(1).restore();
    cluster.wait_caught_up(1).await?;
    assert_eq!(count(&cluster, 1).await?, 2);

    // Paused replay: WAL arrives, rows do not appear.
    cluster.pause_replay(2).await?;
    cluster.execute(0, "INSERT INTO t VALUES (3)").await?;
    let target = cluster.lsns(0).await?.current.expect("a primary");
    labkit::eventually(Duration::from_secs(10), "standby2 to receive", || async {
        Ok(cluster.lsns(2).await?.receive.is_some_and(|r| r >= target))
    })
    .await?;
    assert_eq!(count(&cluster, 2).await?, 2, "replay is paused");
    cluster.resume_replay(2).await?;
    cluster.wait_caught_up(2).await?;
    assert_eq!(count(&cluster, 2).await?, 3);

    cluster.promote(1).await?;
    assert!(!cluster.lsns(1).await?.in_recovery);
    cluster.execute(1, "INSERT INTO t VALUES (4)").await?;

    let pids = cluster.processes();
    let root = cluster.root().to_path_buf();
    assert!(
        pids.len() >= 9,
        "three postmasters and their children: {pids:?}"
    );
    drop(cluster);
    let alive: Vec<u32> = pids.into_iter().filter(|p| is_running(*p)).collect();
    assert!(alive.is_empty(), "still running after drop: {alive:?}");
    assert!(!root.exists(), "{} is left behind", root.display());
    Ok(())
}

/// A frozen primary accepts connections into its kernel backlog but answers
/// nothing until thawed; a killed one has no process left, and its standby can
/// be promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_thaw_and_kill_do_what_they_say() -> anyhow::Result<()> {
    let mut cluster = PgCluster::start(ClusterConfig::default()).await?;
    cluster.freeze(0);
    let frozen = tokio::time::timeout(Duration::from_millis(500), cluster.connect(0)).await;
    assert!(frozen.is_err(), "a frozen server answered");
    cluster.thaw(0);
    cluster.execute(0, "SELECT 1").await?;

    let pids = cluster.node(0).processes();
    cluster.kill(0);
    labkit::eventually(
        Duration::from_secs(5),
        "the primary's processes to die",
        || {
            let pids = pids.clone();
            async move { Ok(pids.iter().all(|p| !is_running(*p))) }
        },
    )
    .await?;
    assert!(cluster.connect(0).await.is_err());
    cluster.promote(1).await?;
    cluster
        .execute(1, "CREATE TABLE after_failover (id int)")
        .await?;
    Ok(())
}

/// Synchronous replication switched on: the primary reports a synchronous
/// standby, and a commit with the link cut waits instead of returning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synchronous_commit_waits_for_its_standby() -> anyhow::Result<()> {
    let cluster = PgCluster::start(ClusterConfig::default()).await?;
    cluster.set_synchronous("*", "remote_apply").await?;
    cluster.execute(0, "CREATE TABLE t (id int)").await?;
    cluster.link(1).cut();
    let waited = tokio::time::timeout(
        Duration::from_millis(700),
        cluster.execute(0, "INSERT INTO t VALUES (1)"),
    )
    .await;
    assert!(
        waited.is_err(),
        "a synchronous commit returned with its standby cut off"
    );
    cluster.link(1).restore();
    cluster.execute(0, "INSERT INTO t VALUES (2)").await?;
    Ok(())
}
