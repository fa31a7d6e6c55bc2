//! # labkit-locate — where each service is
//!
//! The tests (through labkit) and the CLI (`cargo lab`, `cargo lab services`)
//! must agree on where Postgres, Redis and Kafka are, or the dashboard would say
//! one thing and the tests do another. So the order lives here, once, in plain
//! standard-library code that both can afford to compile:
//!
//! 1. an explicit URL from the environment — the user said where the service is;
//! 2. the lab's own services, if `cargo lab services up` started them (it writes
//!    their addresses to [`LabServices::file`]);
//! 3. a server already answering on the service's default local address
//!    (127.0.0.1:5432 as user `postgres`, 127.0.0.1:6379, 127.0.0.1:9092,
//!    127.0.0.1:3306 as `root`), the way psql, redis-cli, mariadb and sqlx find one;
//! 4. (labkit only) a container through Docker, then a clear error.
//!
//! Each step is tried only if the ones before it found nothing, so a user who set
//! a URL never pays for a probe. A source that is found is *used*, even if it then
//! fails: a URL you exported that does not answer is an error naming that URL,
//! never a quiet fall-through to some other server, because a suite that picks a
//! different database depending on what happens to be running is a suite nobody
//! can debug. The same goes for a default-port Postgres that wants a password:
//! [`Sources::locate`] reports it as a [`LocateError`] naming `LAB_POSTGRES_URL`.

mod lab_services;
pub mod probe;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use lab_services::LabServices;

/// Where a Docker engine's socket may be, in the order labkit tries them:
/// `DOCKER_HOST` (any scheme, as given), the system socket, Docker Desktop's,
/// rootless Docker's. The CLI shows the first that exists; labkit pings it.
pub fn docker_socket_candidates() -> Vec<String> {
    let mut candidates = Vec::new();
    if let Ok(host) = std::env::var("DOCKER_HOST")
        && !host.trim().is_empty()
    {
        candidates.push(host.trim().to_string());
    }
    candidates.push("unix:///var/run/docker.sock".to_string());
    if let Ok(home) = std::env::var("HOME") {
        candidates.push(format!("unix://{home}/.docker/run/docker.sock"));
    }
    if let Ok(runtime) = std::env::var("XDG_RUNTIME_DIR") {
        candidates.push(format!("unix://{runtime}/docker.sock"));
    }
    candidates
}

/// A service an exercise can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Postgres,
    Redis,
    Kafka,
    /// MariaDB (or MySQL): the second relational engine, for the exercises that
    /// compare what two engines do with the same SQL.
    Mysql,
}

impl Service {
    pub const ALL: [Service; 4] = [
        Service::Postgres,
        Service::Redis,
        Service::Kafka,
        Service::Mysql,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "Postgres",
            Service::Redis => "Redis",
            Service::Kafka => "Kafka",
            Service::Mysql => "MariaDB",
        }
    }

    /// The lower-case name used in `exercise.toml`, on the command line and in files.
    pub fn key(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::Redis => "redis",
            Service::Kafka => "kafka",
            // The name sqlx gives the protocol, and labkit's feature for it.
            Service::Mysql => "mysql",
        }
    }

    pub fn from_key(key: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.key() == key)
    }

    /// Environment variables consulted, first match wins. `DATABASE_URL` is second
    /// for Postgres because many developers already export it for sqlx.
    pub fn env_vars(self) -> &'static [&'static str] {
        match self {
            Service::Postgres => &["LAB_POSTGRES_URL", "DATABASE_URL"],
            Service::Redis => &["LAB_REDIS_URL"],
            Service::Kafka => &["LAB_KAFKA_BROKERS"],
            Service::Mysql => &["LAB_MYSQL_URL"],
        }
    }

    /// What a working value looks like, for error messages.
    pub fn example_value(self) -> &'static str {
        match self {
            Service::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
            Service::Redis => "redis://127.0.0.1:6379",
            Service::Kafka => "127.0.0.1:9092",
            Service::Mysql => "mysql://root@127.0.0.1:3306/mysql",
        }
    }

    /// Where a server of this kind listens when nobody configured anything.
    pub fn default_addr(self) -> &'static str {
        match self {
            Service::Postgres => "127.0.0.1:5432",
            Service::Redis => "127.0.0.1:6379",
            Service::Kafka => "127.0.0.1:9092",
            Service::Mysql => "127.0.0.1:3306",
        }
    }

    /// The URL (or broker list) the lab uses for a server at `addr`: Postgres as
    /// user `postgres` on database `postgres`, which every fresh cluster has;
    /// MariaDB as `root` without a password on database `mysql`, likewise.
    pub fn url_for(self, addr: &str) -> String {
        match self {
            Service::Postgres => format!("postgres://postgres@{addr}/postgres"),
            Service::Redis => format!("redis://{addr}"),
            Service::Kafka => addr.to_string(),
            Service::Mysql => format!("mysql://root@{addr}/mysql"),
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`, so `{service:9}` lines up in tables.
        f.pad(self.name())
    }
}

/// How a service's address was found; messages use it to say what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Read from this environment variable.
    Env(&'static str),
    /// Written by `cargo lab services up` to this file.
    LabServices { file: PathBuf },
    /// Nothing was configured, and a server answered on the default local address.
    DefaultPort,
    /// A container labkit started for this test process.
    Container { id: String },
}

impl Origin {
    /// "from LAB_REDIS_URL", "found listening on the default port", …
    pub fn how(&self) -> String {
        match self {
            Origin::Env(var) => format!("from {var}"),
            Origin::LabServices { .. } => "started by `cargo lab services up`".to_string(),
            Origin::DefaultPort => "found listening on the default port".to_string(),
            Origin::Container { id } => {
                format!("container {} started by labkit", &id[..id.len().min(12)])
            }
        }
    }

    /// What the user can do when a service found this way does not answer.
    pub fn unreachable_help(&self, service: Service) -> String {
        let var = service.env_vars()[0];
        match self {
            Origin::Env(var) => format!(
                "start {service} at that address, or unset {var} so that the lab looks for \
                 one itself (`cargo lab services up` starts one)"
            ),
            Origin::LabServices { file } => format!(
                "`cargo lab services up` started it, but it is not answering now (after a \
                 reboot, say): run `cargo lab services up` again, or `cargo lab services down` \
                 to forget it ({})",
                file.display()
            ),
            Origin::DefaultPort => format!(
                "a server answered on {service}'s default port a moment ago and stopped; \
                 start it again, or set {var} (e.g. {})",
                service.example_value()
            ),
            Origin::Container { .. } => format!(
                "the {service} container labkit started is not answering; check `docker ps` \
                 and `docker logs`, or set {var} to a {service} you run yourself"
            ),
        }
    }
}

/// A service's address and how it was found, before any client has connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub service: Service,
    /// A URL for Postgres and Redis; a `host:port[,host:port]` broker list for Kafka.
    pub url: String,
    pub origin: Origin,
}

impl Located {
    /// "Postgres at postgres://postgres@127.0.0.1:5432/postgres (found listening on
    /// the default port)".
    pub fn describe(&self) -> String {
        format!("{} at {} ({})", self.service, self.url, self.origin.how())
    }
}

/// A source was found but cannot be used as it is; never fall through past it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocateError {
    pub service: Service,
    message: String,
}

impl fmt::Display for LocateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LocateError {}

type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Everything the order consults: the environment, the lab's services file, the
/// default addresses. Each is replaceable, so the order is unit-tested on any
/// machine, whatever happens to listen on its default ports.
#[derive(Clone)]
pub struct Sources {
    env: Arc<EnvFn>,
    lab_services: LabServices,
    default_addrs: Vec<(Service, String)>,
    probe_timeout: Duration,
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources")
            .field("lab_services", &self.lab_services)
            .field("default_addrs", &self.default_addrs)
            .field("probe_timeout", &self.probe_timeout)
            .finish_non_exhaustive()
    }
}

impl Sources {
    /// A connection to a loopback port is refused or accepted in microseconds;
    /// this bound is for a port that filters instead, and keeps that case cheap.
    pub const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

    /// The process environment, the services file `cargo lab services up` writes
    /// ([`LabServices::dir`]), and the standard default addresses.
    pub fn from_process() -> Sources {
        Sources::new(|var| std::env::var(var).ok())
            .with_lab_services(LabServices::load(&LabServices::dir()))
    }

    /// An explicit environment, no lab services, the standard default addresses.
    pub fn new(env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Sources {
        Sources {
            env: Arc::new(env),
            lab_services: LabServices::default(),
            default_addrs: Service::ALL
                .iter()
                .map(|s| (*s, s.default_addr().to_string()))
                .collect(),
            probe_timeout: Self::PROBE_TIMEOUT,
        }
    }

    pub fn with_lab_services(mut self, lab_services: LabServices) -> Sources {
        self.lab_services = lab_services;
        self
    }

    /// Probe `addr` instead of the service's standard default address.
    pub fn with_default_addr(mut self, service: Service, addr: impl Into<String>) -> Sources {
        let addr = addr.into();
        for (s, a) in &mut self.default_addrs {
            if *s == service {
                *a = addr.clone();
            }
        }
        self
    }

    pub fn lab_services(&self) -> &LabServices {
        &self.lab_services
    }

    /// The default address probed for `service`.
    pub fn default_addr(&self, service: Service) -> &str {
        self.default_addrs
            .iter()
            .find(|(s, _)| *s == service)
            .map_or(service.default_addr(), |(_, a)| a.as_str())
    }

    /// The first set, non-empty variable of `service`. An empty variable counts
    /// as unset, so `LAB_REDIS_URL= cargo test` means "not set".
    pub fn from_env(&self, service: Service) -> Option<Located> {
        service.env_vars().iter().find_map(|var| {
            (self.env)(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(|url| Located {
                    service,
                    url,
                    origin: Origin::Env(var),
                })
        })
    }

    /// Steps 1 to 3 of the order (see the crate docs). `Ok(None)`: nothing found,
    /// so the caller may try Docker. Blocks for at most one short probe, plus a
    /// login check when a Postgres answers on its default port.
    pub fn locate(&self, service: Service) -> Result<Option<Located>, LocateError> {
        if let Some(found) = self.from_env(service) {
            return Ok(Some(found));
        }
        if let Some(url) = self.lab_services.url(service) {
            return Ok(Some(Located {
                service,
                url: url.to_string(),
                origin: Origin::LabServices {
                    file: self.lab_services.file().to_path_buf(),
                },
            }));
        }
        let addr = self.default_addr(service);
        if !probe::tcp_answers(addr, self.probe_timeout) {
            return Ok(None);
        }
        match service {
            Service::Postgres => check_default_postgres_login(addr, self.probe_timeout * 10)?,
            Service::Mysql => check_default_mysql_greeting(addr, self.probe_timeout * 10)?,
            Service::Redis | Service::Kafka => {}
        }
        Ok(Some(Located {
            service,
            url: service.url_for(addr),
            origin: Origin::DefaultPort,
        }))
    }
}

/// A Postgres on the default port that will not let user `postgres` in without
/// a password is found, and unusable: say how to give the lab a login.
fn check_default_postgres_login(addr: &str, timeout: Duration) -> Result<(), LocateError> {
    let problem = match probe::postgres_login(addr, "postgres", "postgres", timeout) {
        Ok(()) => return Ok(()),
        Err(problem) => problem,
    };
    Err(LocateError {
        service: Service::Postgres,
        message: format!(
            "a Postgres answers on {addr} (the default port) for user `postgres` without a \
             password, but {problem}. The lab logs in \
             as user `postgres` without a password unless told otherwise; tell it how:\n  \
             export LAB_POSTGRES_URL=postgres://USER:PASSWORD@{addr}/postgres\n\
             or run `cargo lab services up`, which starts a Postgres of the lab's own on \
             another port (LAB_POSTGRES_URL still wins over both)."
        ),
    })
}

/// Whatever answers on MariaDB's default port must at least greet like one; a
/// login problem (root wants a password) is left to the client, whose error
/// names the URL and `LAB_MYSQL_URL`.
fn check_default_mysql_greeting(addr: &str, timeout: Duration) -> Result<(), LocateError> {
    probe::mysql_greeting(addr, timeout).map(drop).map_err(|problem| LocateError {
        service: Service::Mysql,
        message: format!(
            "something answers on {addr} (MariaDB's default port), but {problem}. Point the \
             lab at your MariaDB or MySQL:\n  export LAB_MYSQL_URL=mysql://USER:PASSWORD@HOST:PORT/mysql"
        ),
    })
}

#[cfg(test)]
mod tests;
