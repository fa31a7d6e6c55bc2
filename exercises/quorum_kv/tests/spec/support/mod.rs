//! What every step's tests share: a cluster of nodes on loopback, each with
//! its own Postgres database, every node-to-node link through a fault proxy;
//! and a small HTTP client for the nodes' routes.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use labkit::{FaultProxy, TestDb};
use quorum_kv::node::{self, NodeConfig, RunningNode};
use quorum_kv::{Config, Mode, Trace, Version, VersionVector};
use serde_json::Value;
use tokio::net::{TcpListener, TcpSocket};

/// A bound on one call of the code under test, well past any timeout the
/// configuration gives it: a call that outlives this was waiting unbounded.
pub const CALL_BOUND: Duration = Duration::from_secs(15);

/// How long a test waits for something the README promises happens "soon"
/// (hints delivered, a write reaching every replica).
pub const SETTLE: Duration = Duration::from_secs(10);

/// How often a node tries its hints in the tests.
pub const HANDOFF_EVERY: Duration = Duration::from_millis(50);

pub struct Cluster {
    // Nodes before databases: a node's pool goes before its database does.
    nodes: Vec<Option<RunningNode>>,
    /// `links[i][j]`: the path from node i to node j (None on the diagonal).
    links: Vec<Vec<Option<FaultProxy>>>,
    addrs: Vec<SocketAddr>,
    dbs: Vec<TestDb>,
    pub config: Config,
    skews: Vec<i64>,
    http: reqwest::Client,
}

/// A node's answer to a client request.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status == 200
    }

    /// The values of a read, as the node returned them.
    pub fn values(&self) -> Vec<String> {
        self.field("values")
    }

    pub fn context(&self) -> VersionVector {
        self.field("context")
    }

    pub fn trace(&self) -> Trace {
        self.field("trace")
    }

    /// Field `name` of the body. A refusal carries none, and reads as empty; a
    /// 200 without it, or with one of the wrong shape, fails here, saying so,
    /// rather than reading as empty and passing an assertion about nothing.
    fn field<T: serde::de::DeserializeOwned + Default>(&self, name: &str) -> T {
        match self.body.get(name) {
            None if !self.ok() => T::default(),
            None => panic!(
                "a 200 reply without `{name}` (see the README's routes): {}",
                self.text
            ),
            Some(value) => serde_json::from_value(value.clone()).unwrap_or_else(|e| {
                panic!(
                    "`{name}` in the reply is not what the README says ({e}): {}",
                    self.text
                )
            }),
        }
    }
}

/// Bind a loopback port a node can be started on again after a kill.
async fn listener_at(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("binding node address {addr}"))?;
    Ok(socket.listen(128)?)
}

impl Cluster {
    /// `nodes` nodes with `config`, clocks true.
    pub async fn start(nodes: usize, config: Config) -> anyhow::Result<Cluster> {
        Cluster::start_with_skews(nodes, config, &vec![0; nodes]).await
    }

    /// Node `i`'s clock is `skews[i]` milliseconds off.
    pub async fn start_with_skews(
        nodes: usize,
        config: Config,
        skews: &[i64],
    ) -> anyhow::Result<Cluster> {
        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        for _ in 0..nodes {
            let listener = listener_at("127.0.0.1:0".parse()?).await?;
            addrs.push(listener.local_addr()?);
            listeners.push(listener);
        }
        let mut links = Vec::new();
        for i in 0..nodes {
            let mut row = Vec::new();
            for (j, addr) in addrs.iter().enumerate() {
                row.push(if i == j {
                    None
                } else {
                    Some(FaultProxy::start(addr.to_string()).await?)
                });
            }
            links.push(row);
        }
        let mut dbs = Vec::new();
        for _ in 0..nodes {
            dbs.push(TestDb::new().await?);
        }
        let mut cluster = Cluster {
            nodes: Vec::new(),
            links,
            addrs,
            dbs,
            config,
            skews: skews.to_vec(),
            http: reqwest::Client::new(),
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            let running = cluster.start_node(i, listener).await?;
            cluster.nodes.push(Some(running));
        }
        Ok(cluster)
    }

    /// How node `i` reaches every node: itself directly, others via links.
    fn peers_of(&self, i: usize) -> Vec<String> {
        (0..self.addrs.len())
            .map(|j| match &self.links[i][j] {
                Some(link) => format!("http://{}", link.addr()),
                None => format!("http://{}", self.addrs[i]),
            })
            .collect()
    }

    async fn start_node(&self, i: usize, listener: TcpListener) -> anyhow::Result<RunningNode> {
        let pool = self.dbs[i].new_pool(4).await?;
        let running = node::start(
            listener,
            NodeConfig {
                id: i,
                peers: self.peers_of(i),
                config: self.config.clone(),
                pool,
                clock_skew_ms: self.skews[i],
                handoff_every: HANDOFF_EVERY,
            },
        );
        Ok(bounded(&format!("starting node {i}"), running).await??)
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// The path from node `from` to node `to`.
    pub fn link(&self, from: usize, to: usize) -> &FaultProxy {
        self.links[from][to]
            .as_ref()
            .expect("a node reaches itself directly, not through a link")
    }

    /// Cut every link between nodes of different groups, both ways. A node
    /// in no group keeps all its links.
    pub fn partition(&self, groups: &[&[usize]]) {
        for (a, one) in groups.iter().enumerate() {
            for (b, other) in groups.iter().enumerate() {
                if a == b {
                    continue;
                }
                for &i in one.iter() {
                    for &j in other.iter() {
                        self.link(i, j).cut();
                    }
                }
            }
        }
    }

    /// Every link back to normal.
    pub fn heal(&self) {
        for link in self.links.iter().flatten().flatten() {
            link.restore();
        }
    }

    /// Stop node `i` at once, as a crash would.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i] = None;
    }

    /// Start node `i` again on its address and database.
    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        let listener = listener_at(self.addrs[i]).await?;
        let running = self.start_node(i, listener).await?;
        self.nodes[i] = Some(running);
        Ok(())
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: String) -> anyhow::Result<Reply> {
        let response = bounded(&what, request.send())
            .await?
            .with_context(|| what.clone())?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = bounded(&what, response.text()).await??;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            retry_after,
            body,
            text,
        })
    }

    fn url(&self, via: usize, path: &str, consistency: Option<&str>) -> String {
        let query = consistency.map_or(String::new(), |c| format!("?consistency={c}"));
        format!("http://{}{path}{query}", self.addrs[via])
    }

    /// `PUT /kv/{key}` on node `via` with `value` and `context`.
    pub async fn put(
        &self,
        via: usize,
        key: &str,
        value: &str,
        context: &VersionVector,
    ) -> anyhow::Result<Reply> {
        self.put_at(via, key, value, context, None).await
    }

    /// The same, at a consistency level.
    pub async fn put_at(
        &self,
        via: usize,
        key: &str,
        value: &str,
        context: &VersionVector,
        consistency: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let body = serde_json::json!({ "value": value, "context": context });
        let request = self
            .http
            .put(self.url(via, &format!("/kv/{key}"), consistency))
            .json(&body);
        self.send(request, format!("PUT /kv/{key} on node {via}"))
            .await
    }

    /// `PUT /kv/{key}` with a raw body (for the bad-input rows).
    pub async fn put_raw(&self, via: usize, key: &str, body: Vec<u8>) -> anyhow::Result<Reply> {
        let request = self
            .http
            .put(self.url(via, &format!("/kv/{key}"), None))
            .header("content-type", "application/json")
            .body(body);
        self.send(request, format!("PUT /kv/{key} on node {via}"))
            .await
    }

    /// `GET /kv/{key}` on node `via`.
    pub async fn get(&self, via: usize, key: &str) -> anyhow::Result<Reply> {
        self.get_at(via, key, None).await
    }

    pub async fn get_at(
        &self,
        via: usize,
        key: &str,
        consistency: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let request = self
            .http
            .get(self.url(via, &format!("/kv/{key}"), consistency));
        self.send(request, format!("GET /kv/{key} on node {via}"))
            .await
    }

    /// A successful write, or the test fails saying why.
    pub async fn put_ok(
        &self,
        via: usize,
        key: &str,
        value: &str,
        context: &VersionVector,
    ) -> anyhow::Result<VersionVector> {
        let reply = self.put(via, key, value, context).await?;
        anyhow::ensure!(
            reply.ok(),
            "PUT {key}={value} on node {via} answered {}: {}",
            reply.status,
            reply.text
        );
        Ok(reply.context())
    }

    /// A successful read's sorted values and context.
    pub async fn get_ok(
        &self,
        via: usize,
        key: &str,
    ) -> anyhow::Result<(Vec<String>, VersionVector)> {
        let reply = self.get(via, key).await?;
        anyhow::ensure!(
            reply.ok(),
            "GET {key} on node {via} answered {}: {}",
            reply.status,
            reply.text
        );
        let mut values = reply.values();
        values.sort();
        Ok((values, reply.context()))
    }

    /// What replica `i` itself holds for `key` (its own state, no coordinator).
    pub async fn held(&self, i: usize, key: &str) -> anyhow::Result<Vec<Version>> {
        let request = self
            .http
            .get(format!("http://{}/replica/{key}", self.addrs[i]));
        let reply = self
            .send(request, format!("GET /replica/{key} on node {i}"))
            .await?;
        anyhow::ensure!(
            reply.ok(),
            "replica {i} answered {}: {}",
            reply.status,
            reply.text
        );
        Ok(serde_json::from_value(reply.body["versions"].clone())?)
    }

    /// The sorted values replica `i` holds for `key`.
    pub async fn held_values(&self, i: usize, key: &str) -> anyhow::Result<Vec<String>> {
        let mut values: Vec<String> = self
            .held(i, key)
            .await?
            .into_iter()
            .map(|v| v.value)
            .collect();
        values.sort();
        Ok(values)
    }

    /// The hints node `i` holds, as (target, key).
    pub async fn hints(&self, i: usize) -> anyhow::Result<Vec<(usize, String)>> {
        let request = self.http.get(format!("http://{}/hints", self.addrs[i]));
        let reply = self
            .send(request, format!("GET /hints on node {i}"))
            .await?;
        anyhow::ensure!(
            reply.ok(),
            "node {i} answered {}: {}",
            reply.status,
            reply.text
        );
        let hints: Vec<BTreeMap<String, Value>> = serde_json::from_value(reply.body)?;
        Ok(hints
            .into_iter()
            .map(|h| {
                (
                    h["target"].as_u64().unwrap_or(u64::MAX) as usize,
                    h["key"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect())
    }

    /// Wait until every one of `replicas` holds exactly `values` for `key`.
    pub async fn wait_held(
        &self,
        replicas: &[usize],
        key: &str,
        values: &[&str],
    ) -> anyhow::Result<()> {
        let want: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        for &i in replicas {
            labkit::eventually(
                SETTLE,
                format!("replica {i} to hold {want:?} for {key}"),
                || async { Ok(self.held_values(i, key).await? == want) },
            )
            .await?;
        }
        Ok(())
    }
}

/// The nodes `trace` waited for, in node order: their arrival order is the
/// race's, not the code's.
pub fn waited_sorted(trace: &Trace) -> Vec<usize> {
    let mut waited = trace.waited_for();
    waited.sort();
    waited
}

/// Whether any reply from `node`, counted or not, reached the request before
/// it answered.
pub fn heard_from(trace: &Trace, node: usize) -> bool {
    trace.replies.iter().any(|r| r.node == node)
}

/// The default test configuration: `n` replicas, majority quorums, `mode`.
pub fn config(n: usize, mode: Mode) -> Config {
    Config {
        mode,
        ..Config::new(n)
    }
}

/// Await a call of the code under test, failing the test (not hanging it)
/// if it does not return within [`CALL_BOUND`].
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> anyhow::Result<T> {
    labkit::within(
        CALL_BOUND,
        format!("{what} (every request must answer within its timeout: see the README)"),
        fut,
    )
    .await
}

/// An empty context: a blind write.
pub fn blind() -> VersionVector {
    VersionVector::new()
}
