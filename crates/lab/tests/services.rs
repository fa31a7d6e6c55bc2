//! `cargo lab services up | status | down` end to end, with real Postgres, Redis
//! and MariaDB started from this machine's binaries, in a services directory of
//! the test's own (so a learner's running services are never touched).
//!
//! Needs the Postgres server binaries, redis-server and MariaDB's server
//! (Debian: `mariadb-server`); Kafka is left out (tansu takes twenty minutes to
//! install, and its start is the same code path as Redis's plus a spawn).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use labkit_locate::{LabServices, Service, probe};

struct ServicesDir(PathBuf);

impl ServicesDir {
    fn new(tag: &str) -> ServicesDir {
        let dir = std::env::temp_dir().join(format!("lab-services-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        ServicesDir(dir)
    }

    fn lab(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_lab"))
            .args(args)
            .env("LAB_SERVICES_DIR", &self.0)
            .env(
                "LAB_ROOT",
                env!("CARGO_MANIFEST_DIR").to_string() + "/../..",
            )
            // No variable may decide for the lab: the test is about its own services.
            .env_remove("LAB_POSTGRES_URL")
            .env_remove("DATABASE_URL")
            .env_remove("LAB_REDIS_URL")
            .env_remove("LAB_KAFKA_BROKERS")
            .env_remove("LAB_MYSQL_URL")
            .output()
            .expect("the lab binary runs")
    }
}

/// Whatever happens, stop what this test started (pass or fail).
impl Drop for ServicesDir {
    fn drop(&mut self) {
        let _ = self.lab(&["services", "down"]);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn addr_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, a)| a)
        .to_string()
}

fn pid_in(dir: &Path, service: &str) -> u32 {
    let record = std::fs::read_to_string(dir.join(service).join("instance.toml"))
        .expect("up writes an instance record");
    record
        .lines()
        .find_map(|l| l.strip_prefix("pid = "))
        .and_then(|p| p.trim().parse().ok())
        .expect("the record names the server's pid")
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    })
}

/// `up` starts Postgres and Redis where the tests will find them with nothing
/// exported, `status` says so, and `down` stops exactly those processes.
#[test]
fn up_status_and_down_run_postgres_and_redis_of_the_labs_own() {
    let dir = ServicesDir::new("e2e");
    let started = Instant::now();
    let up = dir.lab(&["services", "up", "--only", "postgres,redis", "--local"]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "up took {:?}",
        started.elapsed()
    );

    // What labkit reads: the endpoints file, in the order's second place.
    let endpoints = LabServices::load(&dir.0);
    let postgres = endpoints
        .url(Service::Postgres)
        .expect("Postgres recorded")
        .to_string();
    let redis = endpoints
        .url(Service::Redis)
        .expect("Redis recorded")
        .to_string();
    assert_eq!(
        endpoints.url(Service::Kafka),
        None,
        "Kafka was not asked for"
    );
    let (pg_addr, redis_addr) = (addr_of(&postgres), addr_of(&redis));
    assert_ne!(
        pg_addr,
        Service::Postgres.default_addr(),
        "a lab-owned port"
    );
    probe::postgres_login(&pg_addr, "postgres", "postgres", Duration::from_secs(5))
        .expect("the lab's Postgres lets user postgres in");
    probe::redis_ping(&redis_addr, Duration::from_secs(5)).expect("the lab's Redis answers");
    let sources = labkit_locate::Sources::new(|_| None).with_lab_services(endpoints);
    let found = sources.locate(Service::Postgres).unwrap().unwrap();
    assert_eq!(found.url, postgres);

    let status = dir.lab(&["services", "status"]);
    let shown = text(&status);
    for url in [&postgres, &redis] {
        assert!(
            shown.contains(&format!(
                "{url} (started by `cargo lab services up`), answers"
            )),
            "{shown}"
        );
    }
    let (pg_pid, redis_pid) = (pid_in(&dir.0, "postgres"), pid_in(&dir.0, "redis"));
    assert!(alive(pg_pid) && alive(redis_pid));

    let down = dir.lab(&["services", "down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        !alive(pg_pid),
        "Postgres (pid {pg_pid}) still runs after down"
    );
    assert!(
        !alive(redis_pid),
        "Redis (pid {redis_pid}) still runs after down"
    );
    for addr in [&pg_addr, &redis_addr] {
        assert!(
            !probe::tcp_answers(addr, Duration::from_millis(300)),
            "{addr} still answers after down"
        );
    }
    assert_eq!(LabServices::load(&dir.0).services().count(), 0);
}

/// `up --only mysql` starts a MariaDB of the lab's own on a lab-owned port,
/// `status` shows it answering with its version, and `down` stops exactly it.
#[test]
fn up_status_and_down_run_a_mariadb_of_the_labs_own() {
    let dir = ServicesDir::new("mariadb");
    let up = dir.lab(&["services", "up", "--only", "mysql", "--local"]);
    assert!(up.status.success(), "{}", text(&up));

    let url = LabServices::load(&dir.0)
        .url(Service::Mysql)
        .expect("MariaDB recorded")
        .to_string();
    let addr = addr_of(&url);
    assert_ne!(addr, Service::Mysql.default_addr(), "a lab-owned port");
    let version =
        probe::mysql_greeting(&addr, Duration::from_secs(5)).expect("the lab's MariaDB greets");

    let status = dir.lab(&["services", "status"]);
    let shown = text(&status);
    assert!(
        shown.contains(&format!(
            "{url} (started by `cargo lab services up`), answers ({version})"
        )),
        "{shown}"
    );
    let pid = pid_in(&dir.0, "mysql");
    assert!(alive(pid));

    let down = dir.lab(&["services", "down", "--only", "mysql"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(!alive(pid), "MariaDB (pid {pid}) still runs after down");
    assert!(
        !probe::tcp_answers(&addr, Duration::from_millis(300)),
        "{addr} still answers after down"
    );
    assert_eq!(LabServices::load(&dir.0).url(Service::Mysql), None);
}

/// `down` with nothing started stops nothing, and says so; the machine's own
/// servers on the default ports keep answering.
#[test]
fn down_with_nothing_started_touches_nothing() {
    let dir = ServicesDir::new("idle");
    let before: Vec<bool> = Service::ALL
        .iter()
        .map(|s| probe::tcp_answers(s.default_addr(), Duration::from_millis(300)))
        .collect();
    let down = dir.lab(&["services", "down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        text(&down).contains("nothing of the lab's running"),
        "{}",
        text(&down)
    );
    let after: Vec<bool> = Service::ALL
        .iter()
        .map(|s| probe::tcp_answers(s.default_addr(), Duration::from_millis(300)))
        .collect();
    assert_eq!(before, after);
}
