//! Step 4, hidden.

use quorum_kv::Mode;

use crate::support::{Cluster, blind, config};

/// A write's consistency counts as a read's does: `one` is acknowledged on
/// the coordinator's own store with the others stalled, and `quorum`, which
/// needs a second store, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_hidden_a_write_at_one_is_acknowledged_on_the_first_store() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, config(3, Mode::Cp)).await?;
    cluster.link(0, 1).stall();
    cluster.link(0, 2).stall();
    let reply = cluster.put_at(0, "k", "v", &blind(), Some("one")).await?;
    assert!(reply.ok(), "{}", reply.text);
    assert_eq!(reply.trace().waited_for(), vec![0]);
    let reply = cluster
        .put_at(0, "k", "w", &blind(), Some("quorum"))
        .await?;
    assert_eq!(reply.status, 503, "{}", reply.text);
    Ok(())
}
