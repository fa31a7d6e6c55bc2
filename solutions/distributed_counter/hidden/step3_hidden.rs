//! Step 3, hidden — every call of a round is bounded by the node's timeout,
//! reading a peer's answer included: a peer whose answer stalls mid-body is
//! skipped and counted like one that never answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use distributed_counter::Mode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{Cluster, Outcome};

/// A fake peer: it reads a request, answers `200` with the headers of a JSON
/// body it never finishes sending, and keeps the connection open. The headers
/// arrive, so a bound on sending the request is satisfied; only a bound on
/// reading the answer notices that the rest never comes.
struct StalledAnswerPeer {
    addr: SocketAddr,
    answered: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl StalledAnswerPeer {
    async fn start() -> anyhow::Result<StalledAnswerPeer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let answered = Arc::new(AtomicUsize::new(0));
        let count = answered.clone();
        let task = tokio::spawn(async move {
            // Held, never written to again, never closed (until the test ends).
            let mut held = Vec::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                // The gossip request is small: one read takes it in.
                let mut request = vec![0u8; 64 * 1024];
                let read =
                    tokio::time::timeout(Duration::from_secs(5), stream.read(&mut request)).await;
                if !matches!(read, Ok(Ok(n)) if n > 0) {
                    continue;
                }
                let head: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                    content-length: 100000\r\n\r\n{\"from\":\"stalled\",\"counters\":{";
                let written =
                    tokio::time::timeout(Duration::from_secs(5), stream.write_all(head)).await;
                if matches!(written, Ok(Ok(()))) {
                    count.fetch_add(1, Ordering::SeqCst);
                    held.push(stream);
                }
            }
        });
        Ok(StalledAnswerPeer {
            addr,
            answered,
            task,
        })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests got the headers of the answer that never ends.
    fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }
}

impl Drop for StalledAnswerPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A peer that answers the headers of its reply and then stops sending costs a
/// round at most the node's timeout (1 s): reading the answer is bounded too,
/// the peer counts as failed, and the round goes on to the next peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_a_peer_whose_answer_stalls_mid_body_costs_a_round_at_most_the_timeout()
-> anyhow::Result<()> {
    let peer = StalledAnswerPeer::start().await?;
    let stalled = peer.url();
    // n1's peers: the fake whose answer stalls first, then n2.
    let cluster = Cluster::start_with(2, Mode::Crdt, |c| {
        if c.replica == "n1" {
            c.peers.insert(0, stalled.clone());
        }
    })
    .await?;
    assert_eq!(
        cluster.increment(0, "mid-body", 3, "at-n1").await.0,
        Outcome::Acked
    );
    let report = labkit::within(
        Duration::from_secs(3),
        "n1's round with a peer whose answer stalls mid-body (README step 3: every call of a \
         round is bounded by the 1 s timeout, reading the peer's answer included)",
        cluster.sync(0),
    )
    .await??;
    assert!(
        peer.answered() >= 1,
        "n1 called the fake peer and got the headers of its answer (the test is meaningful)"
    );
    assert_eq!(
        report,
        json!({ "peers_reached": 1, "peers_failed": 1 }),
        "README step 3: the peer whose answer stalls fails after the timeout and n2 is still reached"
    );
    assert_eq!(
        cluster.value_at(1, "mid-body").await?,
        3,
        "n2 learned n1's increment in the same round"
    );
    Ok(())
}
