//! A cluster of nodes the tests can partition, kill and restart.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use distributed_counter::{Mode, NodeConfig};
use labkit::{FaultProxy, TestDb};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// A node: its own Tokio runtime, so that killing it drops every in-flight
/// request at once (what `kill -9` does to a process).
///
/// Starting is two-phase: `bind` takes the port first (so proxies can point at
/// it and peers can be told about them), `serve` then hands over the config.
pub struct NodeProcess {
    runtime: Option<tokio::runtime::Runtime>,
    go: Option<oneshot::Sender<(NodeConfig, String, Option<String>)>>,
}

impl NodeProcess {
    /// Bind `port` (0: any free one) on a fresh runtime; returns the port.
    pub async fn bind(port: u16) -> anyhow::Result<(NodeProcess, u16)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let (bound_tx, bound_rx) = oneshot::channel();
        let (go_tx, go_rx) = oneshot::channel::<(NodeConfig, String, Option<String>)>();
        runtime.spawn(async move {
            // Tokio binds with SO_REUSEADDR, so a restarted node gets its old port back.
            let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => listener,
                Err(e) => {
                    let _ = bound_tx.send(Err(e));
                    return;
                }
            };
            let _ = bound_tx.send(listener.local_addr());
            let Ok((config, db_url, shared_url)) = go_rx.await else {
                return;
            };
            // Lazy pools: a node starts even when its database is unreachable,
            // and then answers 503 — it must not refuse to start. The pool's own
            // acquire timeout is far beyond the tests' bounds on purpose: the
            // node's timeout must be what bounds a store call. (With a short one
            // here, a node without its own timeout would be rescued by the pool.)
            let options = || {
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(5)
                    .acquire_timeout(Duration::from_secs(30))
            };
            let Ok(pool) = options().connect_lazy(&db_url) else {
                return;
            };
            let shared = shared_url.and_then(|url| options().connect_lazy(&url).ok());
            let node = distributed_counter::Node::new(config, pool, shared);
            let _ = distributed_counter::serve(listener, node, std::future::pending()).await;
        });
        let bound =
            labkit::within(Duration::from_secs(5), "a node to bind its port", bound_rx).await;
        match bound {
            Ok(Ok(Ok(addr))) => Ok((
                NodeProcess {
                    runtime: Some(runtime),
                    go: Some(go_tx),
                },
                addr.port(),
            )),
            other => {
                // Never drop a runtime inside async code: shut it down in the background.
                runtime.shutdown_background();
                Err(anyhow::anyhow!(
                    "a node could not bind 127.0.0.1:{port}: {other:?}"
                ))
            }
        }
    }

    /// Start serving with this configuration and these databases.
    pub fn serve(&mut self, config: NodeConfig, db_url: String, shared_url: Option<String>) {
        if let Some(go) = self.go.take() {
            let _ = go.send((config, db_url, shared_url));
        }
    }

    pub fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What a client learned from one increment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200: the node says it is durable.
    Acked,
    /// 4xx: the node refused it; it was not applied.
    Failed,
    /// Timeout, connection error or 5xx: it may or may not have been applied.
    Indeterminate,
}

pub struct Cluster {
    pub size: usize,
    /// Held so that each test's databases live as long as its cluster.
    _dbs: Vec<TestDb>,
    _shared: Option<TestDb>,
    configs: Vec<NodeConfig>,
    db_urls: Vec<String>,
    shared_urls: Vec<Option<String>>,
    nodes: Vec<Option<NodeProcess>>,
    ports: Vec<u16>,
    /// Clients reach node i through fronts[i].
    fronts: Vec<FaultProxy>,
    /// Node i reaches node j through links[(i, j)].
    links: HashMap<(usize, usize), FaultProxy>,
    /// Node i reaches its own database through db_links[i].
    pub db_links: Vec<FaultProxy>,
    /// Node i reaches the shared database (linearizable mode) through shared_links[i].
    pub shared_links: Vec<FaultProxy>,
}

impl Cluster {
    /// `size` nodes, gossiping only on demand unless `adjust` says otherwise.
    pub async fn start(size: usize, mode: Mode) -> anyhow::Result<Cluster> {
        Cluster::start_with(size, mode, |_| {}).await
    }

    pub async fn start_with(
        size: usize,
        mode: Mode,
        adjust: impl Fn(&mut NodeConfig),
    ) -> anyhow::Result<Cluster> {
        let mut dbs = Vec::new();
        let mut db_links = Vec::new();
        for _ in 0..size {
            let db = TestDb::new().await?;
            distributed_counter::db::migrate(db.pool()).await?;
            db_links.push(FaultProxy::for_url(db.url()).await?);
            dbs.push(db);
        }
        let mut shared_links = Vec::new();
        let shared = if mode == Mode::Linearizable {
            let db = TestDb::new().await?;
            distributed_counter::db::migrate(db.pool()).await?;
            for _ in 0..size {
                shared_links.push(FaultProxy::for_url(db.url()).await?);
            }
            Some(db)
        } else {
            None
        };

        // Bind every node first, then point proxies at the real ports: reserving
        // a port and binding it later would race other tests for it.
        let mut cluster = Cluster {
            size,
            db_urls: db_links.iter().map(|p| p.url().to_string()).collect(),
            shared_urls: (0..size)
                .map(|i| shared_links.get(i).map(|p| p.url().to_string()))
                .collect(),
            _dbs: dbs,
            _shared: shared,
            configs: Vec::new(),
            nodes: Vec::new(),
            ports: Vec::new(),
            fronts: Vec::new(),
            links: HashMap::new(),
            db_links,
            shared_links,
        };
        for _ in 0..size {
            let (process, port) = NodeProcess::bind(0).await?;
            cluster.nodes.push(Some(process));
            cluster.ports.push(port);
        }
        for i in 0..size {
            cluster
                .fronts
                .push(FaultProxy::start(format!("127.0.0.1:{}", cluster.ports[i])).await?);
            for j in 0..size {
                if i != j {
                    cluster.links.insert(
                        (i, j),
                        FaultProxy::start(format!("127.0.0.1:{}", cluster.ports[j])).await?,
                    );
                }
            }
        }
        for i in 0..size {
            let peers = (0..size)
                .filter(|j| *j != i)
                .map(|j| format!("http://{}", cluster.links[&(i, j)].addr()))
                .collect();
            let mut config = NodeConfig::new(format!("n{}", i + 1), peers);
            config.gossip_interval = None;
            config.mode = mode;
            adjust(&mut config);
            cluster.configs.push(config.clone());
            if let Some(process) = cluster.nodes[i].as_mut() {
                process.serve(
                    config,
                    cluster.db_urls[i].clone(),
                    cluster.shared_urls[i].clone(),
                );
            }
        }
        Ok(cluster)
    }

    /// Start node `i` again on its port, from its database.
    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        // A killed node's runtime shuts down in the background, so its listener
        // can hold the port a moment longer (seen once in CI as AddrInUse):
        // retry the bind, bounded.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut process = loop {
            match NodeProcess::bind(self.ports[i]).await {
                Ok((process, _)) => break process,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        };
        process.serve(
            self.configs[i].clone(),
            self.db_urls[i].clone(),
            self.shared_urls[i].clone(),
        );
        self.nodes[i] = Some(process);
        Ok(())
    }

    /// Crash node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            node.kill();
        }
    }

    /// Cut the link between `i` and `j`, both ways.
    pub fn partition(&self, i: usize, j: usize) {
        self.links[&(i, j)].cut();
        self.links[&(j, i)].cut();
    }

    /// Stall the link between `i` and `j`, both ways: connections open, but no
    /// byte moves (a black hole, which only a timeout notices).
    pub fn stall_between(&self, i: usize, j: usize) {
        self.links[&(i, j)].stall();
        self.links[&(j, i)].stall();
    }

    /// Restore every link between nodes.
    pub fn heal(&self) {
        for link in self.links.values() {
            link.restore();
        }
    }

    /// Node `i`'s own database, for tests that set up state directly.
    pub fn db(&self, i: usize) -> &TestDb {
        &self._dbs[i]
    }

    /// The shared database of a linearizable cluster, for tests that set up
    /// state directly.
    pub fn shared_db(&self) -> anyhow::Result<&TestDb> {
        self._shared
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("only a linearizable cluster has a shared database"))
    }

    /// Where clients reach node `i`.
    pub fn front_addr(&self, i: usize) -> std::net::SocketAddr {
        self.fronts[i].addr()
    }

    /// `POST /counters/{name}/increments` at node `i`, with a 2 s budget.
    pub async fn increment(
        &self,
        i: usize,
        name: &str,
        delta: i64,
        request_id: &str,
    ) -> (Outcome, Option<Value>) {
        self.increment_with_token(i, name, delta, request_id, None)
            .await
    }

    /// The same, presenting `token` as `X-Session-Token` if given.
    pub async fn increment_with_token(
        &self,
        i: usize,
        name: &str,
        delta: i64,
        request_id: &str,
        token: Option<&str>,
    ) -> (Outcome, Option<Value>) {
        let body = json!({ "delta": delta, "request_id": request_id });
        self.increment_raw(i, name, body.to_string().as_bytes(), token)
            .await
    }

    pub async fn increment_raw(
        &self,
        i: usize,
        name: &str,
        body: &[u8],
        token: Option<&str>,
    ) -> (Outcome, Option<Value>) {
        let path = format!("/counters/{name}/increments");
        let mut headers = vec![("content-type", "application/json")];
        if let Some(token) = token {
            headers.push(("x-session-token", token));
        }
        let call = labkit::http::request(self.fronts[i].addr(), "POST", &path, &headers, body);
        match tokio::time::timeout(Duration::from_secs(2), call).await {
            Ok(Ok(response)) if response.status == 200 => {
                (Outcome::Acked, serde_json::from_slice(&response.body).ok())
            }
            Ok(Ok(response)) if (400..500).contains(&response.status) => {
                (Outcome::Failed, serde_json::from_slice(&response.body).ok())
            }
            Ok(Ok(response)) => (
                Outcome::Indeterminate,
                serde_json::from_slice(&response.body).ok(),
            ),
            _ => (Outcome::Indeterminate, None),
        }
    }

    /// `GET /counters/{name}` at node `i`, presenting `token` if given.
    pub async fn read(
        &self,
        i: usize,
        name: &str,
        token: Option<&str>,
    ) -> anyhow::Result<labkit::http::HttpResponse> {
        let headers: Vec<(&str, &str)> = token
            .map(|t| vec![("x-session-token", t)])
            .unwrap_or_default();
        labkit::http::request(
            self.fronts[i].addr(),
            "GET",
            &format!("/counters/{name}"),
            &headers,
            b"",
        )
        .await
    }

    /// The value node `i` reports for `name` (an error if it does not answer 200).
    pub async fn value_at(&self, i: usize, name: &str) -> anyhow::Result<i64> {
        let response = self.read(i, name, None).await?;
        anyhow::ensure!(
            response.status == 200,
            "node {} answered {} {}",
            i + 1,
            response.status,
            response.text()
        );
        let body: Value = serde_json::from_slice(&response.body)?;
        body["value"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("no integer value in {body}"))
    }

    /// Every node's value for `name`.
    pub async fn values(&self, name: &str) -> anyhow::Result<Vec<i64>> {
        let mut values = Vec::new();
        for i in 0..self.size {
            values.push(self.value_at(i, name).await?);
        }
        Ok(values)
    }

    /// One anti-entropy round at node `i`, asked for directly (not through its
    /// client-facing proxy).
    pub async fn sync(&self, i: usize) -> anyhow::Result<Value> {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", self.ports[i]).parse()?;
        let response = labkit::http::request(addr, "POST", "/admin/sync", &[], b"").await?;
        anyhow::ensure!(
            response.status == 200,
            "sync at node {} answered {}",
            i + 1,
            response.status
        );
        Ok(serde_json::from_slice(&response.body)?)
    }

    /// One round: every live node syncs once, in order.
    pub async fn round(&self) -> anyhow::Result<()> {
        for i in 0..self.size {
            if self.nodes[i].is_some() {
                self.sync(i).await?;
            }
        }
        Ok(())
    }
}

/// A session token parsed independently of the code under test: per replica,
/// (increments, decrements). The README fixes the format: `n1:5:0,n2:3:1`.
pub fn parse_token(token: &str) -> BTreeMap<String, (u64, u64)> {
    token
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|part| {
            let fields: Vec<&str> = part.split(':').collect();
            assert_eq!(
                fields.len(),
                3,
                "token part {part:?} is not replica:incs:decs"
            );
            (
                fields[0].to_string(),
                (
                    fields[1].parse().expect("incs"),
                    fields[2].parse().expect("decs"),
                ),
            )
        })
        .collect()
}

/// The value a parsed token stands for: its increments minus its decrements.
pub fn token_value(token: &BTreeMap<String, (u64, u64)>) -> i128 {
    token
        .values()
        .map(|(p, n)| i128::from(*p) - i128::from(*n))
        .sum()
}

/// True if `a` contains everything `b` does, slot by slot.
pub fn dominates(a: &BTreeMap<String, (u64, u64)>, b: &BTreeMap<String, (u64, u64)>) -> bool {
    b.iter().all(|(replica, (p, n))| {
        let (mp, mn) = a.get(replica).copied().unwrap_or((0, 0));
        mp >= *p && mn >= *n
    })
}
