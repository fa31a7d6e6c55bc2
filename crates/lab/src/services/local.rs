//! Throwaway servers from binaries already on the machine, on lab-owned ports.
//!
//! Nothing here is configured for keeps: Postgres gets a fresh cluster with
//! trust authentication on loopback and fsync off, Redis keeps nothing on disk,
//! tansu keeps its topics in one SQLite file, MariaDB gets a fresh data
//! directory whose `root` has no password. `down` removes all of it. Every
//! wait has a bound, and a server that does not come up is stopped again and its
//! log's last lines shown, rather than left half-started.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use labkit_locate::{Service, probe};

use super::instance::{How, Instance, process_alive};

/// The ports the lab prefers for its own servers: the usual ones plus 10000, so
/// they never collide with a system Postgres, Redis, Kafka or MariaDB.
pub fn preferred_port(service: Service) -> u16 {
    match service {
        Service::Postgres => 15432,
        Service::Redis => 16379,
        Service::Kafka => 19092,
        Service::Mysql => 13306,
    }
}

/// How long a server may take to answer after it was started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(45);

/// The preferred port if nothing listens on it, else one the system hands out.
pub fn pick_port(service: Service) -> anyhow::Result<u16> {
    let preferred = preferred_port(service);
    if std::net::TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return Ok(preferred);
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Start `service` locally, recording it under `services_dir`.
pub fn start(
    service: Service,
    services_dir: &Path,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Instance> {
    match service {
        Service::Postgres => start_postgres(services_dir, progress),
        Service::Redis => start_redis(services_dir, progress),
        Service::Kafka => start_kafka(services_dir, progress),
        Service::Mysql => start_mariadb(services_dir, progress),
    }
}

// --- Postgres -----------------------------------------------------------------

/// The account Postgres runs under when the caller is root (it refuses root).
const POSTGRES_USER: &str = "postgres";

/// A directory holding `initdb`, `pg_ctl` and `postgres`: on the PATH, else the
/// newest `/usr/lib/postgresql/*/bin` (Debian, Ubuntu), else the usual others.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    debian.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    candidates.extend(debian.into_iter().rev());
    candidates.extend(
        [
            "/usr/local/pgsql/bin",
            "/opt/homebrew/bin",
            "/usr/pgsql/bin",
        ]
        .iter()
        .map(PathBuf::from),
    );
    candidates.into_iter().find(|d| complete(d))
}

/// uid and gid of `user`, from /etc/passwd.
fn account(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&user) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

fn running_as_root() -> bool {
    // The effective uid, without libc: /proc/self/status has "Uid: real effective …".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A command that runs as `run_as` when one is given (the caller is root).
fn command_as(program: &Path, run_as: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(program);
    if let Some((uid, gid)) = run_as {
        command.uid(uid).gid(gid);
    }
    command
}

/// How long a setup command (initdb, pg_ctl, redis-server's fork,
/// mariadb-install-db) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// Run `command` to completion within [`COMMAND_TIMEOUT`]; its output goes to
/// temporary files so a chatty command can never block on a full pipe.
fn run(mut command: Command, what: &str, log: &Path) -> anyhow::Result<()> {
    let capture = std::env::temp_dir().join(format!(
        "lab-services-{}-{}.out",
        std::process::id(),
        what.replace(' ', "-")
    ));
    let file = std::fs::File::create(&capture)
        .with_context(|| format!("creating {}", capture.display()))?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("running {what}"))?;
    let status = super::wait_bounded(&mut child, COMMAND_TIMEOUT, what)?;
    let printed = std::fs::read_to_string(&capture).unwrap_or_default();
    let _ = std::fs::remove_file(&capture);
    if !status.success() {
        bail!(
            "{what} failed ({status}):\n{printed}\n(log: {})",
            log.display()
        );
    }
    Ok(())
}

fn start_postgres(services_dir: &Path, progress: &dyn Fn(&str)) -> anyhow::Result<Instance> {
    let bin = postgres_bin_dir().context(
        "no Postgres server binaries (initdb, pg_ctl, postgres) on the PATH or under \
         /usr/lib/postgresql/*/bin: install them (Debian/Ubuntu: `apt-get install postgresql`; \
         macOS: `brew install postgresql`), or point the lab at a Postgres you run with \
         LAB_POSTGRES_URL",
    )?;
    let root = running_as_root();
    let run_as = if root {
        Some(account(POSTGRES_USER).context(
            "running as root, and Postgres refuses to run as root, but there is no \
             `postgres` user to run it as: create one (`useradd -r postgres`) or run \
             `cargo lab services up` as an ordinary user",
        )?)
    } else {
        None
    };
    let port = pick_port(Service::Postgres)?;
    // The cluster's directory must be reachable by the user it runs as. Root's
    // cache is not (its home is private), so under root the cluster lives in a
    // directory of its own under /var/tmp, owned by `postgres`.
    let cluster = if root {
        PathBuf::from("/var/tmp").join(format!("backend-lab-postgres-{port}"))
    } else {
        Instance::dir(services_dir, Service::Postgres).join("cluster")
    };
    if let Some(pid) = postmaster_pid(&cluster.join("data"))
        && process_alive(pid)
    {
        bail!(
            "a Postgres from an earlier `cargo lab services up` still runs on {} (pid {pid}); \
             run `cargo lab services down` first",
            cluster.display()
        );
    }
    if cluster.exists() {
        std::fs::remove_dir_all(&cluster)
            .with_context(|| format!("removing an old cluster at {}", cluster.display()))?;
    }
    std::fs::create_dir_all(&cluster).with_context(|| format!("creating {}", cluster.display()))?;
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(&cluster, Some(uid), Some(gid))
            .with_context(|| format!("giving {} to user postgres", cluster.display()))?;
    }
    let data = cluster.join("data");
    let log = cluster.join("postgres.log");

    progress(&format!(
        "Postgres: initdb in {} (binaries from {})",
        data.display(),
        bin.display()
    ));
    let mut initdb = command_as(&bin.join("initdb"), run_as);
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
        .env("LC_ALL", "C");
    run(initdb, "initdb", &log)?;

    progress(&format!(
        "Postgres: starting on 127.0.0.1:{port} (waiting up to {}s)",
        READY_TIMEOUT.as_secs()
    ));
    // pg_ctl hands -o to a shell: quote the socket directory.
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -k '{}' -c fsync=off -c max_connections=200",
        cluster.display()
    );
    let mut pg_ctl = command_as(&bin.join("pg_ctl"), run_as);
    pg_ctl.arg("-D").arg(&data).arg("-l").arg(&log).args([
        "-w",
        "-t",
        &READY_TIMEOUT.as_secs().to_string(),
        "-o",
        &options,
        "start",
    ]);
    let addr = format!("127.0.0.1:{port}");
    let started = run(pg_ctl, "pg_ctl start", &log).and_then(|()| {
        wait_until(&format!("Postgres on {addr}"), &log, &|| None, &|| {
            probe::postgres_login(&addr, "postgres", "postgres", Duration::from_secs(2)).is_ok()
        })
    });
    let instance = Instance {
        service: Service::Postgres.key().to_string(),
        how: How::Local,
        url: Service::Postgres.url_for(&addr),
        pid: postmaster_pid(&data),
        // The postmaster's command line names its data directory: no other
        // Postgres on the machine has this one.
        command_contains: Some(data.display().to_string()),
        data_dir: Some(cluster),
        run_as: run_as.map(|_| POSTGRES_USER.to_string()),
        bin_dir: Some(bin),
        log,
        started_at: now(),
    };
    if let Err(e) = started {
        // Never leave a half-started server behind: stop whatever came up.
        let _ = stop(&instance);
        return Err(e);
    }
    Ok(instance)
}

/// The postmaster's pid, from the first line of `postmaster.pid`.
fn postmaster_pid(data: &Path) -> Option<u32> {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
}

fn stop_postgres(instance: &Instance) -> anyhow::Result<()> {
    let (Some(bin), Some(cluster)) = (&instance.bin_dir, &instance.data_dir) else {
        bail!("the Postgres record has no binaries or data directory");
    };
    let run_as = instance.run_as.as_deref().and_then(account);
    if instance.running() {
        let mut pg_ctl = command_as(&bin.join("pg_ctl"), run_as);
        pg_ctl
            .arg("-D")
            .arg(cluster.join("data"))
            .args(["-m", "fast", "-w", "-t", "30", "stop"]);
        if run(pg_ctl, "pg_ctl stop", &instance.log).is_err() || instance.running() {
            terminate(instance)?;
        }
    }
    Ok(())
}

// --- Redis --------------------------------------------------------------------

fn find_on_path(program: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(extra.iter().cloned())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn start_redis(services_dir: &Path, progress: &dyn Fn(&str)) -> anyhow::Result<Instance> {
    let binary = find_on_path("redis-server", &[]).context(
        "no redis-server on the PATH: install it (Debian/Ubuntu: `apt-get install \
         redis-server`; macOS: `brew install redis`), or point the lab at a Redis you run \
         with LAB_REDIS_URL",
    )?;
    let port = pick_port(Service::Redis)?;
    let dir = Instance::dir(services_dir, Service::Redis);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log = dir.join("redis.log");
    let pidfile = dir.join("redis.pid");
    let _ = std::fs::remove_file(&pidfile);
    progress(&format!(
        "Redis: starting on 127.0.0.1:{port} (waiting up to {}s)",
        READY_TIMEOUT.as_secs()
    ));
    let mut command = Command::new(&binary);
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "yes"])
        .arg("--pidfile")
        .arg(&pidfile)
        .arg("--logfile")
        .arg(&log)
        .arg("--dir")
        .arg(&dir);
    let addr = format!("127.0.0.1:{port}");
    let started = run(command, "redis-server", &log).and_then(|()| {
        wait_until(&format!("Redis on {addr}"), &log, &|| None, &|| {
            probe::redis_ping(&addr, Duration::from_secs(1)).is_ok()
        })
    });
    let instance = Instance {
        service: Service::Redis.key().to_string(),
        how: How::Local,
        url: Service::Redis.url_for(&addr),
        pid: std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok()),
        // redis-server names its address in its command line ("redis-server
        // 127.0.0.1:16379"): a pid reused by another Redis will not match.
        command_contains: Some(addr.clone()),
        data_dir: None,
        run_as: None,
        bin_dir: None,
        log,
        started_at: now(),
    };
    if let Err(e) = started {
        let _ = stop(&instance);
        return Err(e);
    }
    Ok(instance)
}

// --- Kafka (tansu) --------------------------------------------------------------

/// The tansu release the lab is tested with, and how to install it.
pub const TANSU_INSTALL: &str =
    "cargo install tansu --version 0.6.0 --locked --no-default-features --features libsql";

/// `tansu` on the PATH or in cargo's bin directory.
pub fn tansu_binary() -> Option<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin"));
    find_on_path("tansu", &cargo_bin.into_iter().collect::<Vec<_>>())
}

fn start_kafka(services_dir: &Path, progress: &dyn Fn(&str)) -> anyhow::Result<Instance> {
    let binary = tansu_binary().with_context(|| {
        format!(
            "Kafka comes from tansu, a Kafka-compatible broker, which is not installed. \
             Install it (about 20 minutes of compiling) with\n  {TANSU_INSTALL}\nor let \
             `cargo lab services up --install-kafka` do it; or point the lab at a broker \
             you run with LAB_KAFKA_BROKERS"
        )
    })?;
    let port = pick_port(Service::Kafka)?;
    let dir = Instance::dir(services_dir, Service::Kafka);
    let data = dir.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data)
            .with_context(|| format!("removing old data at {}", data.display()))?;
    }
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let log = dir.join("tansu.log");
    let listener = format!("tcp://127.0.0.1:{port}");
    progress(&format!(
        "Kafka: starting tansu on 127.0.0.1:{port} (waiting up to {}s)",
        READY_TIMEOUT.as_secs()
    ));
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new(&binary)
            .args(["broker", "--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            // SQLite, in one file: the storage engine KAFKA.md recommends.
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(&data)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            // Its own process group: a Ctrl-C meant for a later command in this
            // terminal must not reach the broker.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?
    };
    let pid = child.id();
    let addr = format!("127.0.0.1:{port}");
    let waited = wait_for_spawned(&format!("tansu on {addr}"), "tansu", &log, child, &|| {
        probe::tcp_answers(&addr, Duration::from_millis(300))
    });
    let instance = Instance {
        service: Service::Kafka.key().to_string(),
        how: How::Local,
        url: Service::Kafka.url_for(&addr),
        pid: Some(pid),
        // tansu's command line carries its listener URL, port included.
        command_contains: Some(listener.clone()),
        data_dir: Some(data),
        run_as: None,
        bin_dir: None,
        log,
        started_at: now(),
    };
    if let Err(e) = waited {
        let _ = terminate(&instance);
        return Err(e);
    }
    Ok(instance)
}

// --- MariaDB --------------------------------------------------------------------

/// The account MariaDB runs under when the caller is root: mariadbd will not
/// run as root, and a throwaway server needs no such power anyway.
const MARIADB_USER: &str = "mysql";

/// Why MariaDB was not started on a machine without its server, and what to do.
pub const MARIADB_MISSING: &str = "no MariaDB server (mariadbd and mariadb-install-db) on \
     the PATH or in /usr/sbin, /usr/bin: install it (Debian/Ubuntu: `apt-get install \
     mariadb-server`; macOS: `brew install mariadb`), or point the lab at a MariaDB or \
     MySQL you run with LAB_MYSQL_URL";

/// MariaDB's two programs: the script that creates a data directory, and the server.
pub struct MariadbBinaries {
    pub install_db: PathBuf,
    pub server: PathBuf,
}

/// `mariadb-install-db` (or its old name, `mysql_install_db`) and `mariadbd`
/// (or `mysqld`), on the PATH or where Debian puts them: the server lives in
/// /usr/sbin, which an ordinary user's PATH often lacks.
pub fn mariadb_binaries() -> Option<MariadbBinaries> {
    let system = [PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")];
    let first = |names: &[&str]| names.iter().find_map(|name| find_on_path(name, &system));
    Some(MariadbBinaries {
        install_db: first(&["mariadb-install-db", "mysql_install_db"])?,
        server: first(&["mariadbd", "mysqld"])?,
    })
}

fn start_mariadb(services_dir: &Path, progress: &dyn Fn(&str)) -> anyhow::Result<Instance> {
    let bin = mariadb_binaries().context(MARIADB_MISSING)?;
    let root = running_as_root();
    // As root, the server runs as `mysql` the way Postgres runs as `postgres`:
    // through the command's uid and gid, so the data directory, the log and the
    // process all belong to that one account from the start.
    let run_as = if root {
        Some(account(MARIADB_USER).context(
            "running as root, and mariadbd will not run as root, but there is no `mysql` \
             user to run it as: create one (`useradd -r mysql`) or run `cargo lab services \
             up` as an ordinary user",
        )?)
    } else {
        None
    };
    let port = pick_port(Service::Mysql)?;
    // As for Postgres: root's cache is private to root, so under root the
    // server's directory is one of its own under /var/tmp, owned by `mysql`.
    let server_dir = if root {
        PathBuf::from("/var/tmp").join(format!("backend-lab-mariadb-{port}"))
    } else {
        Instance::dir(services_dir, Service::Mysql).join("server")
    };
    let pid_file = server_dir.join("mariadbd.pid");
    if let Some(pid) = pid_in(&pid_file)
        && process_alive(pid)
    {
        bail!(
            "a MariaDB from an earlier `cargo lab services up` still runs on {} (pid {pid}); \
             run `cargo lab services down` first",
            server_dir.display()
        );
    }
    if server_dir.exists() {
        std::fs::remove_dir_all(&server_dir)
            .with_context(|| format!("removing an old server at {}", server_dir.display()))?;
    }
    std::fs::create_dir_all(&server_dir)
        .with_context(|| format!("creating {}", server_dir.display()))?;
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(&server_dir, Some(uid), Some(gid))
            .with_context(|| format!("giving {} to user mysql", server_dir.display()))?;
    }
    let data = server_dir.join("data");
    let log = server_dir.join("mariadb.log");
    let datadir = format!("--datadir={}", data.display());

    progress(&format!(
        "MariaDB: mariadb-install-db in {} (server {})",
        data.display(),
        bin.server.display()
    ));
    let mut install = command_as(&bin.install_db, run_as);
    install
        // No option file of the machine's: a system server's datadir, port or
        // socket in /etc/mysql must not leak into a throwaway one.
        .arg("--no-defaults")
        .arg(&datadir)
        // root@localhost and root@127.0.0.1 with an empty password rather than
        // unix_socket: the lab logs in over TCP as `root` without a password,
        // as the URL says and as the compose image allows.
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        // A directory the `mysql` user can enter (root's working directory may
        // not be one).
        .current_dir(&server_dir);
    run(install, "mariadb-install-db", &log)?;

    progress(&format!(
        "MariaDB: starting on 127.0.0.1:{port} (waiting up to {}s)",
        READY_TIMEOUT.as_secs()
    ));
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let child = {
        use std::os::unix::process::CommandExt;
        let mut server = command_as(&bin.server, run_as);
        server
            // mariadbd accepts --no-defaults only as its first argument.
            .arg("--no-defaults")
            .arg(&datadir)
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            // Its own socket and pid file, never the system server's /run/mysqld.
            .arg(format!(
                "--socket={}",
                server_dir.join("mariadbd.sock").display()
            ))
            .arg(format!("--pid-file={}", pid_file.display()))
            // No DNS lookup per connection: root@127.0.0.1 exists, so the lab's
            // login does not need 127.0.0.1 to be called `localhost`.
            .arg("--skip-name-resolve")
            // What Debian's packages (and so the official image) configure;
            // without it, 10.11 creates latin1 tables and the two would differ.
            .arg("--character-set-server=utf8mb4")
            .arg("--collation-server=utf8mb4_general_ci")
            // Nothing here is kept, so a commit need not wait for the disk:
            // the counterpart of Postgres's fsync=off. Isolation is unchanged.
            .arg("--innodb-flush-log-at-trx-commit=0")
            .current_dir(&server_dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            // Its own process group: a Ctrl-C meant for a later command in this
            // terminal must not reach the server.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", bin.server.display()))?
    };
    let pid = child.id();
    let addr = format!("127.0.0.1:{port}");
    // mariadbd binds its port before it has finished starting, but greets a
    // connection only from its accept loop, once it is ready: the greeting,
    // not the open port, is the signal.
    let waited = wait_for_spawned(
        &format!("MariaDB on {addr}"),
        "mariadbd",
        &log,
        child,
        &|| probe::mysql_greeting(&addr, Duration::from_secs(1)).is_ok(),
    );
    let instance = Instance {
        service: Service::Mysql.key().to_string(),
        how: How::Local,
        url: Service::Mysql.url_for(&addr),
        pid: Some(pid),
        // mariadbd's command line names its data directory: no other server on
        // the machine has this one.
        command_contains: Some(datadir),
        data_dir: Some(server_dir),
        run_as: run_as.map(|_| MARIADB_USER.to_string()),
        bin_dir: None,
        log,
        started_at: now(),
    };
    if let Err(e) = waited {
        // Never leave a half-started server behind; the error quotes its log.
        let _ = stop(&instance);
        return Err(e);
    }
    Ok(instance)
}

/// The pid in the first line of `file`, if it holds one.
fn pid_in(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
}

// --- stopping ---------------------------------------------------------------------

/// Stop a local instance and remove its data. Only the recorded process, and
/// only if its command line still matches what was started.
pub fn stop(instance: &Instance) -> anyhow::Result<()> {
    match Service::from_key(&instance.service) {
        Some(Service::Postgres) => stop_postgres(instance)?,
        // SIGTERM is a clean shutdown for redis-server, tansu and mariadbd alike.
        _ => terminate(instance)?,
    }
    if let Some(dir) = &instance.data_dir
        && dir.exists()
    {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}

/// SIGTERM, wait up to ten seconds, then SIGKILL.
fn terminate(instance: &Instance) -> anyhow::Result<()> {
    let Some(pid) = instance.pid else {
        return Ok(());
    };
    if !instance.running() {
        return Ok(());
    }
    let signal = |name: &str| {
        Command::new("kill")
            .args([name, &pid.to_string()])
            .stderr(Stdio::null())
            .status()
    };
    signal("-TERM").context("running kill")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if process_alive(pid) {
        signal("-KILL").context("running kill")?;
    }
    Ok(())
}

/// [`wait_until`] for a server this process spawned and did not detach:
/// `child` is `name`'s process, and one that exits (a port race, a bad flag)
/// will never answer, so the wait ends as soon as it does.
fn wait_for_spawned(
    what: &str,
    name: &str,
    log: &Path,
    child: std::process::Child,
    ready: &dyn Fn() -> bool,
) -> anyhow::Result<()> {
    let child = std::cell::RefCell::new(child);
    let exited = std::cell::Cell::new(None);
    wait_until(
        what,
        log,
        &|| {
            if let Ok(Some(status)) = child.borrow_mut().try_wait() {
                exited.set(Some(status));
            }
            exited
                .get()
                .map(|status| format!("{name} exited ({status})"))
        },
        ready,
    )
}

/// Poll `ready` until it holds or [`READY_TIMEOUT`] passes, giving up at once
/// when `gone` reports the server died; the error quotes the end of its log.
fn wait_until(
    what: &str,
    log: &Path,
    gone: &dyn Fn() -> Option<String>,
    ready: &dyn Fn() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if ready() {
            return Ok(());
        }
        if let Some(why) = gone() {
            bail!(
                "{what} will not answer: {why}. The end of its log ({}):\n{}",
                log.display(),
                tail(log, 15)
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "{what} did not answer within {}s. The end of its log ({}):\n{}",
                READY_TIMEOUT.as_secs(),
                log.display(),
                tail(log, 15)
            );
        }
        // Polling a local port: there is no notification to wait on instead.
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
