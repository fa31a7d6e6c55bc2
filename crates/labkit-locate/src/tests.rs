//! The order, on fake facts: an environment closure, an in-memory services
//! file, and default addresses pointed at loopback listeners this test owns (or
//! at ports nobody listens on), so the result never depends on the machine.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use super::*;

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

/// A loopback port with nothing listening on it.
fn dead_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let addr = listener.local_addr().expect("bound").to_string();
    drop(listener);
    addr
}

/// A listener that answers every connection with `reply` after reading once.
fn fake_server(reply: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let addr = listener.local_addr().expect("bound").to_string();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 512];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(reply);
        }
    });
    addr
}

/// AuthenticationOk: 'R', length 8, code 0.
const PG_OK: &[u8] = &[b'R', 0, 0, 0, 8, 0, 0, 0, 0];
/// AuthenticationSASL: 'R', length 23, code 10, "SCRAM-SHA-256\0\0".
const PG_SCRAM: &[u8] = b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0";

fn lab_services_with(service: Service, url: &str) -> LabServices {
    let mut lab = LabServices::empty_in(Path::new("/nonexistent/lab-services"));
    lab.set(service, url.to_string());
    lab
}

use std::path::Path;

/// Nothing anywhere: every default address dead, no file, no variable.
fn nothing() -> Sources {
    let mut sources = Sources::new(|_| None);
    for service in Service::ALL {
        sources = sources.with_default_addr(service, dead_addr());
    }
    sources
}

/// An exported URL wins over the lab's services and over a listening default port.
#[test]
fn an_environment_url_wins_over_lab_services_and_the_default_port() {
    let sources = Sources::new(env_of(&[("LAB_REDIS_URL", "redis://10.0.0.1:6379")]))
        .with_lab_services(lab_services_with(Service::Redis, "redis://127.0.0.1:16379"))
        .with_default_addr(Service::Redis, fake_server(b"+PONG\r\n"));
    let found = sources.locate(Service::Redis).unwrap().unwrap();
    assert_eq!(found.url, "redis://10.0.0.1:6379");
    assert_eq!(found.origin, Origin::Env("LAB_REDIS_URL"));
}

/// `LAB_POSTGRES_URL` is preferred to `DATABASE_URL`, which is still honoured.
#[test]
fn postgres_prefers_the_lab_variable_then_database_url() {
    let both = nothing().env_swap(env_of(&[
        ("DATABASE_URL", "postgres://b"),
        ("LAB_POSTGRES_URL", "postgres://a"),
    ]));
    let found = both.locate(Service::Postgres).unwrap().unwrap();
    assert_eq!(
        (found.url.as_str(), found.origin),
        ("postgres://a", Origin::Env("LAB_POSTGRES_URL"))
    );
    let only = nothing().env_swap(env_of(&[("DATABASE_URL", "postgres://b")]));
    let found = only.locate(Service::Postgres).unwrap().unwrap();
    assert_eq!(
        (found.url.as_str(), found.origin),
        ("postgres://b", Origin::Env("DATABASE_URL"))
    );
}

/// Without a variable, what `services up` started wins over a listening default port.
#[test]
fn the_labs_own_services_come_before_the_default_port() {
    let sources = Sources::new(|_| None)
        .with_lab_services(lab_services_with(Service::Kafka, "127.0.0.1:19092"))
        .with_default_addr(Service::Kafka, fake_server(b""));
    let found = sources.locate(Service::Kafka).unwrap().unwrap();
    assert_eq!(found.url, "127.0.0.1:19092");
    assert!(matches!(found.origin, Origin::LabServices { .. }));
    assert!(found.describe().contains("cargo lab services up"));
}

/// With nothing configured, a server on the default address is found and named so.
#[test]
fn a_server_on_the_default_port_is_found_and_said_to_be() {
    let addr = fake_server(b"+PONG\r\n");
    let sources = nothing().with_default_addr(Service::Redis, addr.clone());
    let found = sources.locate(Service::Redis).unwrap().unwrap();
    assert_eq!(found.url, format!("redis://{addr}"));
    assert_eq!(found.origin, Origin::DefaultPort);
    assert_eq!(
        found.describe(),
        format!("Redis at redis://{addr} (found listening on the default port)")
    );
}

/// A default-port Postgres that lets `postgres` in is used, with the lab's URL.
#[test]
fn a_default_port_postgres_that_lets_postgres_in_is_used() {
    let addr = fake_server(PG_OK);
    let sources = nothing().with_default_addr(Service::Postgres, addr.clone());
    let found = sources.locate(Service::Postgres).unwrap().unwrap();
    assert_eq!(found.url, format!("postgres://postgres@{addr}/postgres"));
}

/// A default-port Postgres that wants a password is an error naming
/// LAB_POSTGRES_URL, not a fall-through to Docker or to anything else.
#[test]
fn a_default_port_postgres_that_wants_a_password_is_a_clear_error() {
    let addr = fake_server(PG_SCRAM);
    let sources = nothing().with_default_addr(Service::Postgres, addr.clone());
    let err = sources.locate(Service::Postgres).unwrap_err().to_string();
    assert!(err.contains("LAB_POSTGRES_URL"), "{err}");
    assert!(err.contains(&addr), "{err}");
    assert!(err.contains("SCRAM-SHA-256"), "{err}");
}

/// A refusal (no pg_hba.conf entry, say) is reported with its SQLSTATE and text.
#[test]
fn a_refused_postgres_login_is_reported_with_its_sqlstate() {
    let addr = fake_server(b"E\0\0\0\x29SFATAL\0C28000\0Mno pg_hba.conf entry\0\0");
    let problem =
        probe::postgres_login(&addr, "postgres", "postgres", Duration::from_secs(2)).unwrap_err();
    assert_eq!(
        problem,
        probe::LoginProblem::Refused {
            sqlstate: "28000".into(),
            message: "no pg_hba.conf entry".into()
        }
    );
}

/// Nothing set, nothing started, nothing listening: not found (labkit tries Docker next).
#[test]
fn with_nothing_anywhere_nothing_is_found() {
    for service in Service::ALL {
        assert_eq!(nothing().locate(service).unwrap(), None, "{service}");
    }
}

/// An empty variable is treated as unset rather than as an empty URL.
#[test]
fn an_empty_variable_counts_as_unset() {
    let sources = nothing().env_swap(env_of(&[("LAB_REDIS_URL", "  ")]));
    assert_eq!(sources.locate(Service::Redis).unwrap(), None);
}

/// The services file round-trips, ignores what it does not know, and an empty
/// set removes it.
#[test]
fn the_services_file_round_trips_and_an_empty_one_is_removed() {
    let dir = std::env::temp_dir().join(format!("labkit-locate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut lab = LabServices::empty_in(&dir);
    lab.set(Service::Redis, "redis://127.0.0.1:16379".into());
    lab.set(
        Service::Postgres,
        "postgres://postgres@127.0.0.1:15432/postgres".into(),
    );
    lab.save().unwrap();
    let text = std::fs::read_to_string(lab.file()).unwrap();
    assert!(
        text.contains("LAB_REDIS_URL=redis://127.0.0.1:16379\n"),
        "{text}"
    );
    std::fs::write(lab.file(), format!("{text}NOT_OURS=1\ngarbage\n")).unwrap();
    let loaded = LabServices::load(&dir);
    assert_eq!(loaded.url(Service::Redis), Some("redis://127.0.0.1:16379"));
    assert_eq!(
        loaded.url(Service::Postgres),
        Some("postgres://postgres@127.0.0.1:15432/postgres")
    );
    assert_eq!(loaded.url(Service::Kafka), None);
    let mut emptied = loaded;
    emptied.remove(Service::Redis);
    emptied.remove(Service::Postgres);
    emptied.save().unwrap();
    assert!(!emptied.file().exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Redis's PING is answered with PONG; an error reply comes back as its text.
#[test]
fn redis_ping_tells_pong_from_an_error() {
    assert_eq!(
        probe::redis_ping(&fake_server(b"+PONG\r\n"), Duration::from_secs(2)),
        Ok(())
    );
    let err = probe::redis_ping(
        &fake_server(b"-NOAUTH Authentication required.\r\n"),
        Duration::from_secs(2),
    )
    .unwrap_err();
    assert!(err.contains("NOAUTH"), "{err}");
}

impl Sources {
    /// The same sources with another environment (tests only).
    fn env_swap(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Sources {
        self.env = Arc::new(env);
        self
    }
}

/// A listener that speaks first, as a MySQL server does: `greeting`, then close.
fn greeting_server(greeting: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let addr = listener.local_addr().expect("bound").to_string();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.write_all(greeting);
        }
    });
    addr
}

/// A MySQL-protocol greeting: length 12 (little-endian), sequence 0, protocol
/// 10, "10.11.19\0", then a byte of the rest.
const MYSQL_GREETING: &[u8] = b"\x0c\0\0\0\x0a10.11.19\0\0\0";

/// A MariaDB greeting on the default port is found as `root` on `mysql`, and
/// the probe reads the server's version from the greeting.
#[test]
fn a_mariadb_on_the_default_port_is_found_by_its_greeting() {
    let addr = greeting_server(MYSQL_GREETING);
    assert_eq!(
        probe::mysql_greeting(&addr, Sources::PROBE_TIMEOUT).unwrap(),
        "10.11.19"
    );
    let sources = nothing().with_default_addr(Service::Mysql, addr.clone());
    let found = sources.locate(Service::Mysql).unwrap().unwrap();
    assert_eq!(found.url, format!("mysql://root@{addr}/mysql"));
    assert_eq!(found.origin, Origin::DefaultPort);
}

/// Something on MariaDB's port that does not greet like MySQL is an error that
/// names `LAB_MYSQL_URL`, not a quiet fall-through to a container.
#[test]
fn a_default_port_that_does_not_greet_like_mysql_is_an_error_naming_the_variable() {
    let sources = nothing().with_default_addr(Service::Mysql, greeting_server(b"+PONG\r\n"));
    let error = sources.locate(Service::Mysql).unwrap_err();
    assert_eq!(error.service, Service::Mysql);
    assert!(error.to_string().contains("LAB_MYSQL_URL"), "{error}");
}
