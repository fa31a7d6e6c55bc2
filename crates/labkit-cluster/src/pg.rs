//! A Postgres primary and its streaming standbys, started for one test.
//!
//! ```text
//!   test ──► node 0 (primary) ◄── proxy 1 ◄── node 1 (standby, pulls WAL)
//!        └─► node 1            ◄── proxy 2 ◄── node 2 (standby)
//! ```
//!
//! Clients connect to each node directly ([`PgNode::url`]); only replication
//! goes through a [`FaultProxy`] ([`PgCluster::link`]), so cutting a link is a
//! partition between the regions while both sides stay reachable to the test.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use labkit::FaultProxy;
use sqlx::{Connection, PgConnection};

use crate::process;

/// How long a server may take to start, stop or answer one of the cluster's
/// own queries before the call fails with the node's name and address.
const SERVER_TIMEOUT: Duration = Duration::from_secs(30);
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many fresh ports a first start tries before giving up.
const PORT_ATTEMPTS: u32 = 5;

/// What to start: how many standbys, and settings for every server.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Streaming standbys of the primary (node 1, node 2, …).
    pub standbys: usize,
    /// Extra `postgresql.conf` lines (`name`, `value` as Postgres writes it),
    /// written before the standbys are copied, so every node has them.
    pub settings: Vec<(String, String)>,
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        ClusterConfig {
            standbys: 1,
            settings: Vec::new(),
        }
    }
}

/// One server of the cluster. Node 0 starts as the primary; node `i > 0` is
/// named `standby<i>`, which is also its `application_name` on the primary (what
/// `synchronous_standby_names` and `pg_stat_replication` call it).
#[derive(Debug)]
pub struct PgNode {
    name: String,
    port: u16,
    dir: PathBuf,
    killed: bool,
}

impl PgNode {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    /// A client URL: user `postgres`, database `postgres`, trust auth.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
    /// The server's log file.
    pub fn log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }
    /// The postmaster's pid, while it has one.
    pub fn pid(&self) -> Option<u32> {
        process::postmaster_pid(&self.data()).filter(|p| process::is_running(*p))
    }
    /// The postmaster and every process it forked (backends, walsender, …).
    pub fn processes(&self) -> Vec<u32> {
        self.pid().map(process::tree).unwrap_or_default()
    }
}

/// Where a node's WAL stands, in bytes since `0/0` (see the module docs of the
/// exercise for what each position means).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLsns {
    pub in_recovery: bool,
    /// `pg_current_wal_lsn()`: on a primary only.
    pub current: Option<u64>,
    /// `pg_last_wal_receive_lsn()`: on a standby, what its walreceiver got.
    pub receive: Option<u64>,
    /// `pg_last_wal_replay_lsn()`: on a standby, what it has applied.
    pub replay: Option<u64>,
}

/// See the module documentation. Dropping it stops every server.
pub struct PgCluster {
    root: PathBuf,
    bin: PathBuf,
    run_as: Option<(u32, u32)>,
    nodes: Vec<PgNode>,
    /// `links[i]` carries node `i`'s replication connection (none for node 0).
    links: Vec<Option<FaultProxy>>,
}

/// A directory with `initdb`, `pg_ctl`, `pg_basebackup` and `postgres`:
/// `LAB_PG_BIN`, else one on the `PATH`, else the newest `/usr/lib/postgresql/*/bin`.
pub fn pg_bin_dir() -> anyhow::Result<PathBuf> {
    find_bin_dir(
        std::env::var_os("LAB_PG_BIN").map(PathBuf::from),
        std::env::var_os("PATH"),
        Path::new("/usr/lib/postgresql"),
    )
}

const SERVER_BINARIES: [&str; 4] = ["initdb", "pg_ctl", "pg_basebackup", "postgres"];

/// [`pg_bin_dir`] with its inputs given: the explicit directory, the `PATH`,
/// and the directory of Debian's versioned installs.
fn find_bin_dir(
    explicit: Option<PathBuf>,
    path: Option<std::ffi::OsString>,
    debian_root: &Path,
) -> anyhow::Result<PathBuf> {
    let complete = |dir: &Path| SERVER_BINARIES.iter().all(|b| dir.join(b).is_file());
    if let Some(dir) = explicit {
        if complete(&dir) {
            return Ok(dir);
        }
        bail!(
            "LAB_PG_BIN={} does not hold {}",
            dir.display(),
            SERVER_BINARIES.join(", ")
        );
    }
    let mut candidates: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir(debian_root)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((version, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    debian.sort();
    candidates.extend(debian.into_iter().rev().map(|(_, p)| p));
    candidates.into_iter().find(|d| complete(d)).context(
        "no Postgres server binaries (initdb, pg_ctl, pg_basebackup, postgres) on this machine: \
         install the server package (Debian/Ubuntu: `apt-get install postgresql`; macOS: \
         `brew install postgresql`) or set LAB_PG_BIN to the directory that holds them",
    )
}

/// A port nothing listened on a moment ago. Only a moment: see
/// [`PgCluster::start_node`].
fn free_port() -> anyhow::Result<u16> {
    #[cfg(test)]
    if let Some(port) = tests::HANDED_OUT.with(|h| h.borrow_mut().pop()) {
        return Ok(port);
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

impl PgCluster {
    /// initdb the primary, start it, copy each standby from it with
    /// `pg_basebackup -R`, point the standby's replication at its own proxy,
    /// and start it. Returns when every standby streams from the primary.
    pub async fn start(config: ClusterConfig) -> anyhow::Result<PgCluster> {
        labkit::init_tracing();
        let bin = pg_bin_dir()?;
        let run_as = if process::running_as_root() {
            Some(process::account("postgres").context(
                "running as root, and Postgres refuses to: there is no `postgres` account to \
                 run the servers as (the server package creates it; or run the tests as a user)",
            )?)
        } else {
            None
        };
        let root = std::env::temp_dir().join(labkit::unique::name("pgcluster"));
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let mut cluster = PgCluster {
            root,
            bin,
            run_as,
            nodes: Vec::new(),
            links: Vec::new(),
        };
        // From here on, Drop cleans up whatever was started, should a step fail.
        cluster.own(&cluster.root.clone())?;
        cluster.start_primary(&config).await?;
        for i in 1..=config.standbys {
            cluster.start_standby(i).await?;
        }
        for i in 1..=config.standbys {
            cluster.wait_streaming(i).await?;
        }
        Ok(cluster)
    }

    fn own(&self, path: &Path) -> anyhow::Result<()> {
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .with_context(|| format!("giving {} to user postgres", path.display()))?;
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        // The caller's directory may be closed to user postgres.
        command
            .current_dir(&self.root)
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST")
            .stdin(Stdio::null());
        command
    }

    async fn run(&self, mut command: Command, what: String, log: PathBuf) -> anyhow::Result<()> {
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .context("joining a blocking command")?
            .with_context(|| format!("running {what}"))?;
        if !output.status.success() {
            let server_log = std::fs::read_to_string(&log).unwrap_or_default();
            bail!(
                "{what} failed ({}):\n{}{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                tail(&server_log, 20)
            );
        }
        Ok(())
    }

    fn new_node(&mut self, name: String) -> anyhow::Result<usize> {
        let dir = self.root.join(&name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.own(&dir)?;
        self.nodes.push(PgNode {
            name,
            port: free_port()?,
            dir,
            killed: false,
        });
        Ok(self.nodes.len() - 1)
    }

    async fn start_primary(&mut self, config: &ClusterConfig) -> anyhow::Result<()> {
        let i = self.new_node("primary".to_string())?;
        self.links.push(None);
        let node = &self.nodes[i];
        let mut initdb = self.command("initdb");
        initdb.arg("-D").arg(node.data()).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ]);
        self.run(initdb, format!("initdb for {}", node.name), node.log())
            .await?;
        let mut conf = String::from(
            "\n# labkit-cluster\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = ''\n\
             fsync = off\n\
             shared_buffers = 16MB\n\
             max_connections = 40\n\
             max_wal_senders = 5\n\
             wal_keep_size = 64MB\n\
             dynamic_shared_memory_type = mmap\n\
             wal_retrieve_retry_interval = '100ms'\n\
             wal_receiver_status_interval = '1s'\n\
             wal_receiver_timeout = '10s'\n\
             wal_sender_timeout = '10s'\n\
             log_line_prefix = '%m [%p] %a '\n",
        );
        for (name, value) in &config.settings {
            conf.push_str(&format!("{name} = {value}\n"));
        }
        append(&node.data().join("postgresql.conf"), &conf)?;
        self.start_node(i).await
    }

    /// Start node `i` for the first time. Its port came from [`free_port`],
    /// which can only say the port was free when it asked: until the server
    /// binds it, another test's proxy, server or outgoing connection may take
    /// it. A start that fails for that reason alone is tried again on a fresh
    /// port; nothing has been pointed at the node yet, so nothing else moves.
    async fn start_node(&mut self, i: usize) -> anyhow::Result<()> {
        let mut attempt = 1;
        loop {
            let logged = std::fs::metadata(self.nodes[i].log()).map_or(0, |m| m.len());
            let result = self.start_node_once(i).await;
            let Err(error) = result else { return Ok(()) };
            if attempt == PORT_ATTEMPTS || !self.lost_its_port(i, logged) {
                return Err(error);
            }
            tracing::warn!(node = %self.nodes[i].name, port = self.nodes[i].port,
                "port taken before the server bound it; trying a fresh one");
            self.nodes[i].port = free_port()?;
            attempt += 1;
        }
    }

    /// Whether the server log, past its first `logged` bytes, says the port
    /// was already in use.
    fn lost_its_port(&self, i: usize, logged: u64) -> bool {
        let log = std::fs::read(self.nodes[i].log()).unwrap_or_default();
        let new = log.get(logged as usize..).unwrap_or_default();
        String::from_utf8_lossy(new).contains("could not bind")
    }

    async fn start_node_once(&self, i: usize) -> anyhow::Result<()> {
        let node = &self.nodes[i];
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(node.data())
            .arg("-l")
            .arg(node.log())
            .args(["-w", "-t", &SERVER_TIMEOUT.as_secs().to_string()])
            .arg("-o")
            .arg(format!("-p {}", node.port))
            .arg("start");
        self.run(
            pg_ctl,
            format!("pg_ctl start of {} on {}", node.name, node.addr()),
            node.log(),
        )
        .await
    }

    async fn start_standby(&mut self, n: usize) -> anyhow::Result<()> {
        let i = self.new_node(format!("standby{n}"))?;
        let primary = &self.nodes[0];
        let link = FaultProxy::start(primary.addr()).await?;
        let node = &self.nodes[i];
        let mut backup = self.command("pg_basebackup");
        backup
            .args(["-h", "127.0.0.1", "-p", &primary.port.to_string()])
            .args(["-U", "postgres", "-D"])
            .arg(node.data())
            .args(["-R", "-X", "stream", "--checkpoint=fast", "--no-sync"]);
        self.run(
            backup,
            format!("pg_basebackup of {} from {}", node.name, primary.addr()),
            primary.log(),
        )
        .await?;
        // After -R's own line, so it wins: replication through the proxy, under
        // the standby's name.
        append(
            &node.data().join("postgresql.auto.conf"),
            &format!(
                "primary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name={}'\n",
                link.addr().port(),
                node.name
            ),
        )?;
        self.links.push(Some(link));
        self.start_node(i).await
    }

    async fn wait_streaming(&self, i: usize) -> anyhow::Result<()> {
        let name = self.nodes[i].name.clone();
        let what = format!(
            "{name} to stream from the primary at {} (pg_stat_replication)",
            self.nodes[0].addr()
        );
        labkit::eventually(SERVER_TIMEOUT, what, || async {
            let mut conn = self.connect(0).await?;
            let streaming: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_replication \
                 WHERE application_name = $1 AND state = 'streaming'",
            )
            .bind(&name)
            .fetch_one(&mut conn)
            .await?;
            Ok(streaming == 1)
        })
        .await
    }

    /// The servers; node 0 started as the primary.
    pub fn nodes(&self) -> &[PgNode] {
        &self.nodes
    }

    pub fn node(&self, i: usize) -> &PgNode {
        &self.nodes[i]
    }

    /// Node `i`'s replication link to the primary (`i > 0`).
    pub fn link(&self, i: usize) -> &FaultProxy {
        match self.links.get(i) {
            Some(Some(link)) => link,
            _ => panic!("node {i} has no replication link: node 0 is the primary"),
        }
    }

    /// The directory holding every node's data and log.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A connection to node `i`, bounded, the error naming the node.
    pub async fn connect(&self, i: usize) -> anyhow::Result<PgConnection> {
        let node = &self.nodes[i];
        labkit::within(
            QUERY_TIMEOUT,
            format!("a connection to {} at {}", node.name, node.addr()),
            PgConnection::connect(&node.url()),
        )
        .await?
        .with_context(|| format!("connecting to {} at {}", node.name, node.addr()))
    }

    /// Run `sql` (one or more statements, no parameters) on node `i`.
    pub async fn execute(&self, i: usize, sql: &str) -> anyhow::Result<()> {
        let mut conn = self.connect(i).await?;
        let node = &self.nodes[i];
        labkit::within(
            QUERY_TIMEOUT,
            format!("{sql:?} on {} at {}", node.name, node.addr()),
            // The test's own SQL, on its own throwaway cluster.
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut conn),
        )
        .await?
        .with_context(|| format!("{sql:?} on {}", node.name))?;
        Ok(())
    }

    /// Stop applying WAL on standby `i` (it still receives it).
    pub async fn pause_replay(&self, i: usize) -> anyhow::Result<()> {
        self.execute(i, "SELECT pg_wal_replay_pause()").await?;
        let name = self.nodes[i].name.clone();
        labkit::eventually(
            QUERY_TIMEOUT,
            format!("replay to pause on {name}"),
            || async {
                let mut conn = self.connect(i).await?;
                let state: String = sqlx::query_scalar("SELECT pg_get_wal_replay_pause_state()")
                    .fetch_one(&mut conn)
                    .await?;
                Ok(state == "paused")
            },
        )
        .await
    }

    pub async fn resume_replay(&self, i: usize) -> anyhow::Result<()> {
        self.execute(i, "SELECT pg_wal_replay_resume()").await
    }

    /// Node `i`'s WAL positions.
    pub async fn lsns(&self, i: usize) -> anyhow::Result<NodeLsns> {
        let mut conn = self.connect(i).await?;
        let node = &self.nodes[i];
        let row: (bool, Option<i64>, Option<i64>, Option<i64>) = labkit::within(
            QUERY_TIMEOUT,
            format!("the LSNs of {} at {}", node.name, node.addr()),
            sqlx::query_as(
                "SELECT pg_is_in_recovery(), \
                 CASE WHEN pg_is_in_recovery() THEN NULL \
                      ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint END, \
                 pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::bigint, \
                 pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint",
            )
            .fetch_one(&mut conn),
        )
        .await??;
        let unsigned = |v: Option<i64>| v.map(|v| v as u64);
        Ok(NodeLsns {
            in_recovery: row.0,
            current: unsigned(row.1),
            receive: unsigned(row.2),
            replay: unsigned(row.3),
        })
    }

    /// Wait until standby `i` has replayed everything the primary (node 0) had
    /// written when this was called.
    pub async fn wait_caught_up(&self, i: usize) -> anyhow::Result<()> {
        let target = self
            .lsns(0)
            .await?
            .current
            .context("node 0 is not a primary")?;
        let name = self.nodes[i].name.clone();
        labkit::eventually(
            SERVER_TIMEOUT,
            format!("{name} to replay up to {target} (the primary's position)"),
            || async { Ok(self.lsns(i).await?.replay.is_some_and(|r| r >= target)) },
        )
        .await
    }

    /// `kill -9` every process of node `i`: a crash, with no shutdown checkpoint
    /// and no goodbye to clients or standbys.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let pids = node.processes();
        process::signal("CONT", &pids);
        process::signal("KILL", &pids);
        node.killed = true;
    }

    /// SIGSTOP every process of node `i`: a stop-the-world pause. Its sockets
    /// stay open; nothing it holds answers until [`thaw`](Self::thaw).
    pub fn freeze(&self, i: usize) {
        process::signal("STOP", &self.nodes[i].processes());
    }

    pub fn thaw(&self, i: usize) {
        process::signal("CONT", &self.nodes[i].processes());
    }

    /// `pg_promote()` on node `i`, waiting until it takes writes.
    pub async fn promote(&self, i: usize) -> anyhow::Result<()> {
        let mut conn = self.connect(i).await?;
        let node = &self.nodes[i];
        let promoted: bool = labkit::within(
            SERVER_TIMEOUT + QUERY_TIMEOUT,
            format!("pg_promote() on {} at {}", node.name, node.addr()),
            sqlx::query_scalar("SELECT pg_promote(true, 30)").fetch_one(&mut conn),
        )
        .await??;
        if !promoted {
            bail!("pg_promote() on {} did not finish within 30 s", node.name);
        }
        Ok(())
    }

    /// Make commits on the primary wait for `standbys` (a
    /// `synchronous_standby_names` value such as `'*'` or `'ANY 1 (standby1,
    /// standby2)'`) at `level` (`on`, `remote_write`, `remote_apply`), and wait
    /// until the primary reports a synchronous standby.
    pub async fn set_synchronous(&self, standbys: &str, level: &str) -> anyhow::Result<()> {
        let quote = |s: &str| s.replace('\'', "''");
        // ALTER SYSTEM refuses to run inside a transaction block, and several
        // statements in one simple query are one: one call each.
        self.execute(
            0,
            &format!(
                "ALTER SYSTEM SET synchronous_standby_names = '{}'",
                quote(standbys)
            ),
        )
        .await?;
        self.execute(
            0,
            &format!("ALTER SYSTEM SET synchronous_commit = '{}'", quote(level)),
        )
        .await?;
        self.execute(0, "SELECT pg_reload_conf()").await?;
        labkit::eventually(
            SERVER_TIMEOUT,
            format!("a synchronous standby ({standbys}) on the primary"),
            || async {
                let mut conn = self.connect(0).await?;
                let row: (i64, String) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM pg_stat_replication \
                             WHERE sync_state IN ('sync', 'quorum')), \
                            current_setting('synchronous_commit')",
                )
                .fetch_one(&mut conn)
                .await?;
                Ok(row.0 > 0 && row.1 == level)
            },
        )
        .await
    }

    /// Every live process of every node.
    pub fn processes(&self) -> Vec<u32> {
        self.nodes.iter().flat_map(PgNode::processes).collect()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        for node in &self.nodes {
            let pids = node.processes();
            // A frozen process ignores everything but SIGKILL; thaw it first so
            // nothing is left stopped should the kill race a fork.
            process::signal("CONT", &pids);
            process::signal("KILL", &pids);
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while pids.iter().any(|p| process::is_running(*p))
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            // SIGKILL leaves the postmaster's small System V segment behind.
            if let Some(id) = process::shared_memory_id(&node.data()) {
                let _ = Command::new("ipcrm")
                    .args(["-m", &id])
                    .stderr(Stdio::null())
                    .status();
            }
            if panicking {
                let log = std::fs::read_to_string(node.log()).unwrap_or_default();
                eprintln!(
                    "--- {} ({}{}), last lines of its log:\n{}",
                    node.name,
                    node.addr(),
                    if node.killed {
                        ", killed by the test"
                    } else {
                        ""
                    },
                    tail(&log, 15)
                );
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        /// Ports [`free_port`] hands out first (last pushed, first out), so a
        /// test can give a node a port it knows to be taken.
        pub(super) static HANDED_OUT: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
    }

    /// A port taken between choosing it and binding it costs a retry on a
    /// fresh port, not the test: the race CI once lost to a neighbour's proxy.
    #[tokio::test(flavor = "current_thread")]
    async fn a_port_taken_before_the_server_binds_it_is_replaced() -> anyhow::Result<()> {
        let squatter = std::net::TcpListener::bind("127.0.0.1:0")?;
        let taken = squatter.local_addr()?.port();
        HANDED_OUT.with(|h| h.borrow_mut().push(taken));
        let cluster = PgCluster::start(ClusterConfig {
            standbys: 0,
            ..ClusterConfig::default()
        })
        .await?;
        assert_ne!(cluster.node(0).port(), taken, "the squatter still holds it");
        let mut conn = cluster.connect(0).await?;
        let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await?;
        assert_eq!(one, 1);
        drop(squatter);
        Ok(())
    }

    /// A scratch directory with a `bin` of fake server binaries per version.
    fn fake_installs(versions: &[u32]) -> PathBuf {
        let root = std::env::temp_dir().join(labkit::unique::name("pgbin"));
        for v in versions {
            let bin = root.join(v.to_string()).join("bin");
            std::fs::create_dir_all(&bin).expect("a scratch dir");
            for b in SERVER_BINARIES {
                std::fs::write(bin.join(b), "").expect("a fake binary");
            }
        }
        std::fs::create_dir_all(&root).expect("a scratch dir");
        root
    }

    #[test]
    fn the_newest_versioned_install_is_found_when_nothing_else_is() {
        let root = fake_installs(&[9, 13, 15]);
        let found = find_bin_dir(None, None, &root).expect("found");
        assert_eq!(
            found,
            root.join("15/bin"),
            "15 is newer than 9 and 13 (numerically)"
        );
        std::fs::remove_dir_all(root).ok();
    }

    #[test]
    fn an_explicit_directory_wins_and_an_incomplete_one_is_refused() {
        let root = fake_installs(&[13, 15]);
        let explicit = root.join("13/bin");
        assert_eq!(
            find_bin_dir(Some(explicit.clone()), None, &root).expect("found"),
            explicit
        );
        std::fs::remove_file(explicit.join("pg_basebackup")).expect("remove");
        let error = find_bin_dir(Some(explicit), None, &root).expect_err("incomplete");
        assert!(format!("{error}").contains("LAB_PG_BIN="), "{error}");
        std::fs::remove_dir_all(root).ok();
    }

    #[test]
    fn no_binaries_is_an_error_that_says_what_to_install() {
        let root = fake_installs(&[]);
        let error = find_bin_dir(None, Some("".into()), &root).expect_err("none");
        let message = format!("{error}");
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("LAB_PG_BIN"), "{message}");
        std::fs::remove_dir_all(root).ok();
    }
}
