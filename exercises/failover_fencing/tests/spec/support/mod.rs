//! What every step's tests share: a cluster with the schema, bounded calls,
//! acknowledged writes whose fate the test knows.

use std::future::Future;
use std::time::Duration;

use failover_fencing::app::{self, Ack};
use failover_fencing::schema;
use labkit_cluster::{ClusterConfig, PgCluster};
use sqlx::PgConnection;

/// The bound the tests give the code under test for one server round trip.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A bound on a whole call of the code under test, well past any timeout the
/// test passes it: a call that outlives this was waiting without a bound.
pub const CALL_BOUND: Duration = Duration::from_secs(20);

/// A cluster with `standbys` standbys and the payments schema, every standby
/// caught up.
pub async fn cluster(standbys: usize) -> anyhow::Result<PgCluster> {
    let cluster = PgCluster::start(ClusterConfig {
        standbys,
        ..ClusterConfig::default()
    })
    .await?;
    let mut conn = cluster.connect(0).await?;
    labkit::within(
        TIMEOUT,
        "applying the schema to the primary",
        schema::apply(&mut conn),
    )
    .await??;
    for i in 1..=standbys {
        cluster.wait_caught_up(i).await?;
    }
    Ok(cluster)
}

/// Node `i`'s URL.
pub fn url(cluster: &PgCluster, i: usize) -> String {
    cluster.node(i).url()
}

/// Await a call of the code under test, failing the test (not hanging it) if it
/// does not return within [`CALL_BOUND`].
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> anyhow::Result<T> {
    labkit::within(
        CALL_BOUND,
        format!("{what} (it must bound its own waits: see the README's fault table)"),
        fut,
    )
    .await
}

/// `n` acknowledged payments `<prefix>-<k>` written through the provided app.
pub async fn write_acked(
    conn: &mut PgConnection,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<Ack>> {
    let mut acks = Vec::new();
    for k in 0..n {
        let reference = format!("{prefix}-{k}");
        let ack = labkit::within(
            TIMEOUT,
            format!("writing {reference}"),
            app::write_payment(conn, &reference, 100 + k as i64),
        )
        .await??;
        acks.push(ack);
    }
    Ok(acks)
}

/// How many payments carry `reference` on node `i`.
pub async fn count(cluster: &PgCluster, i: usize, reference: &str) -> anyhow::Result<i64> {
    let mut conn = cluster.connect(i).await?;
    Ok(labkit::within(
        TIMEOUT,
        format!("counting {reference} on {}", cluster.node(i).name()),
        app::count_reference(&mut conn, reference),
    )
    .await??)
}

/// Kill the primary (node 0) and promote node `i` with the cluster's own
/// control, for the steps that are not about promoting.
pub async fn crash_and_promote(cluster: &mut PgCluster, i: usize) -> anyhow::Result<()> {
    cluster.kill(0);
    cluster.promote(i).await
}
