//! Where a service comes from: the environment, a container, or a clear "no".
//!
//! The order is fixed and documented in the README, because a test suite that
//! silently picks a different database depending on the machine is a suite nobody
//! can debug:
//!
//! 1. an explicit URL from the environment — the user said where the service is;
//! 2. a container started through Docker — only if Docker answers a ping quickly;
//! 3. an error, within seconds, that names both ways to get the service.
//!
//! The decision itself ([`choose`]) is a pure function so that its order can be
//! unit-tested on a machine with no Docker at all.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::docker::{DockerHost, DockerStatus};

/// A service an exercise can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Postgres,
    Redis,
    Kafka,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Postgres, Service::Redis, Service::Kafka];

    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "Postgres",
            Service::Redis => "Redis",
            Service::Kafka => "Kafka",
        }
    }

    /// Environment variables consulted, first match wins. `DATABASE_URL` is second
    /// for Postgres because many developers already export it for sqlx.
    pub fn env_vars(self) -> &'static [&'static str] {
        match self {
            Service::Postgres => &["LAB_POSTGRES_URL", "DATABASE_URL"],
            Service::Redis => &["LAB_REDIS_URL"],
            Service::Kafka => &["LAB_KAFKA_BROKERS"],
        }
    }

    /// What a working value looks like, for error messages.
    pub fn example_value(self) -> &'static str {
        match self {
            Service::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
            Service::Redis => "redis://127.0.0.1:6379",
            Service::Kafka => "127.0.0.1:9092",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an [`Endpoint`] was found; error messages use it to say what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Read from this environment variable.
    Env(&'static str),
    /// A container labkit started for this test process.
    Container { id: String },
}

/// A service's address and how it was found.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub service: Service,
    /// A URL for Postgres and Redis; a `host:port[,host:port]` broker list for Kafka.
    pub url: String,
    pub origin: Origin,
}

impl Endpoint {
    /// "Redis at redis://127.0.0.1:6379 (from LAB_REDIS_URL)".
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::Env(var) => format!("{} at {} (from {var})", self.service, self.url),
            Origin::Container { id } => {
                let short = &id[..id.len().min(12)];
                format!(
                    "{} at {} (container {short} started by labkit)",
                    self.service, self.url
                )
            }
        }
    }

    /// What the user can do when this endpoint does not answer.
    pub fn unreachable_help(&self) -> String {
        match &self.origin {
            Origin::Env(var) => format!(
                "start {service} at that address, or unset {var} so that labkit starts a \
                 {service} container through Docker",
                service = self.service
            ),
            Origin::Container { .. } => format!(
                "the {} container labkit started is not answering; check `docker ps` and \
                 `docker logs`, or set {} to a {} you run yourself",
                self.service,
                self.service.env_vars()[0],
                self.service
            ),
        }
    }
}

impl Endpoint {
    /// The `host:port` pairs this endpoint names (one for a URL, one per broker).
    pub fn socket_addrs(&self) -> Vec<String> {
        match self.service {
            Service::Kafka => self
                .url
                .split(',')
                .map(|b| b.trim().trim_start_matches("PLAINTEXT://").to_string())
                .filter(|b| !b.is_empty())
                .collect(),
            Service::Postgres | Service::Redis => {
                let default_port = if self.service == Service::Postgres {
                    5432
                } else {
                    6379
                };
                url::Url::parse(&self.url)
                    .ok()
                    .and_then(|u| {
                        Some(format!(
                            "{}:{}",
                            u.host_str()?,
                            u.port().unwrap_or(default_port)
                        ))
                    })
                    .into_iter()
                    .collect()
            }
        }
    }

    /// Fail fast if nothing listens: try a TCP connection to each address within
    /// two seconds. Client libraries retry a refused connection until their own
    /// (longer) timeouts; this turns "nobody is there" into an error at once.
    pub async fn probe(&self) -> anyhow::Result<()> {
        let addrs = self.socket_addrs();
        anyhow::ensure!(
            !addrs.is_empty(),
            "{} has no host:port in it",
            self.describe()
        );
        let mut last = None;
        for addr in &addrs {
            match tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
                .await
            {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => last = Some("no answer within 2s".to_string()),
            }
        }
        anyhow::bail!(
            "{} is not reachable ({}); {}",
            self.describe(),
            last.unwrap_or_default(),
            self.unreachable_help()
        )
    }
}

/// The outcome of [`choose`]: where to get the service, before any connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    FromEnv { var: &'static str, url: String },
    StartContainer,
}

/// No environment URL and no Docker: the message names both ways out.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NoService {
    pub service: Service,
    message: String,
}

impl NoService {
    fn new(service: Service, docker: &DockerStatus) -> Self {
        let vars = service.env_vars();
        let not_set = match vars {
            [one] => format!("{one} is not set"),
            [first, rest @ ..] => format!("{first} (or {}) is not set", rest.join(", ")),
            [] => "no environment variable is defined for it".to_string(),
        };
        let message = format!(
            "no {service} for this test: {not_set}, and {docker}.\n\
             Get one either way:\n  \
             1. point the lab at a {service} you run:   export {var}={example}\n  \
             2. or start Docker: labkit then starts a {service} container for the tests by itself\n     \
             (`docker compose -f docker/compose.yml up -d` starts all services; then use way 1)",
            var = vars[0],
            example = service.example_value(),
        );
        NoService { service, message }
    }
}

/// Decide where `service` comes from. Pure: `env` and `docker` are given.
///
/// An empty variable counts as unset, so `LAB_REDIS_URL= cargo test` means "not set".
pub fn choose(
    service: Service,
    env: &dyn Fn(&str) -> Option<String>,
    docker: &DockerStatus,
) -> Result<Choice, NoService> {
    if let Some((var, url)) = from_env(service, env) {
        return Ok(Choice::FromEnv { var, url });
    }
    if docker.is_available() {
        return Ok(Choice::StartContainer);
    }
    Err(NoService::new(service, docker))
}

fn from_env(
    service: Service,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(&'static str, String)> {
    service.env_vars().iter().find_map(|var| {
        env(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|v| (*var, v))
    })
}

type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Applies [`choose`] against a real environment and a real Docker host.
pub struct Resolver {
    env: Arc<EnvFn>,
    docker: DockerHost,
    ping_timeout: Duration,
    // One ping per resolver: a test process with fifty tests pings Docker once.
    docker_status: OnceCell<DockerStatus>,
}

impl Resolver {
    /// The default ping budget. Docker answers `/_ping` in milliseconds when it is
    /// up; a socket that accepts and then says nothing must not cost a test more.
    pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

    /// The process environment and the Docker host it points at.
    pub fn from_process_env() -> Self {
        Resolver::new(|var| std::env::var(var).ok(), DockerHost::from_env())
    }

    /// A resolver with an explicit environment and Docker host (used by tests).
    pub fn new(
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
        docker: DockerHost,
    ) -> Self {
        Resolver {
            env: Arc::new(env),
            docker,
            ping_timeout: Self::PING_TIMEOUT,
            docker_status: OnceCell::new(),
        }
    }

    pub fn with_ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = timeout;
        self
    }

    /// Find `service`: environment, else a container, else a [`NoService`] error.
    ///
    /// The environment is read before Docker is touched at all, so a user who set a
    /// URL never waits for a Docker ping.
    pub async fn resolve(&self, service: Service) -> anyhow::Result<Endpoint> {
        if let Some((var, url)) = from_env(service, &*self.env) {
            return Ok(Endpoint {
                service,
                url,
                origin: Origin::Env(var),
            });
        }
        let docker = self
            .docker_status
            .get_or_init(|| crate::docker::ping(&self.docker, self.ping_timeout))
            .await;
        match choose(service, &*self.env, docker)? {
            // Unreachable in practice (handled above), but keep `choose` the one authority.
            Choice::FromEnv { var, url } => Ok(Endpoint {
                service,
                url,
                origin: Origin::Env(var),
            }),
            Choice::StartContainer => start_container(service, &self.docker).await,
        }
    }
}

#[cfg(feature = "containers")]
async fn start_container(service: Service, docker: &DockerHost) -> anyhow::Result<Endpoint> {
    crate::containers::endpoint(service, docker).await
}

/// Built without the container path: say so, rather than pretend Docker is absent.
#[cfg(not(feature = "containers"))]
async fn start_container(service: Service, _docker: &DockerHost) -> anyhow::Result<Endpoint> {
    anyhow::bail!(
        "Docker answers, but this build of labkit has no container path (its `containers` \
         feature is off); set {} to a {service} you run (e.g. {}), or build labkit with its \
         default features",
        service.env_vars()[0],
        service.example_value()
    )
}

static PROCESS_RESOLVER: LazyLock<Resolver> = LazyLock::new(Resolver::from_process_env);

/// Find `service` the standard way for this process (see the module docs).
pub async fn resolve(service: Service) -> anyhow::Result<Endpoint> {
    // Any test that needs a service comes through here first: a good moment to
    // set up the (silent unless TEST_LOG=1) subscriber, once per process.
    crate::init_tracing();
    PROCESS_RESOLVER.resolve(service).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn docker_up() -> DockerStatus {
        DockerStatus::Available {
            host: "unix:///var/run/docker.sock".into(),
        }
    }

    fn docker_down() -> DockerStatus {
        DockerStatus::Unavailable {
            host: "unix:///var/run/docker.sock".into(),
            reason: "no such socket".into(),
        }
    }

    /// The environment wins even when Docker is available.
    #[test]
    fn an_environment_url_wins_over_docker() {
        let env = env_of(&[("LAB_REDIS_URL", "redis://10.0.0.1:6379")]);
        let choice = choose(Service::Redis, &env, &docker_up()).unwrap();
        assert_eq!(
            choice,
            Choice::FromEnv {
                var: "LAB_REDIS_URL",
                url: "redis://10.0.0.1:6379".into()
            }
        );
    }

    /// `LAB_POSTGRES_URL` is preferred to `DATABASE_URL`, which is still honoured.
    #[test]
    fn postgres_prefers_the_lab_variable_then_database_url() {
        let both = env_of(&[
            ("DATABASE_URL", "postgres://b"),
            ("LAB_POSTGRES_URL", "postgres://a"),
        ]);
        assert_eq!(
            choose(Service::Postgres, &both, &docker_down()).unwrap(),
            Choice::FromEnv {
                var: "LAB_POSTGRES_URL",
                url: "postgres://a".into()
            }
        );
        let only_database_url = env_of(&[("DATABASE_URL", "postgres://b")]);
        assert_eq!(
            choose(Service::Postgres, &only_database_url, &docker_down()).unwrap(),
            Choice::FromEnv {
                var: "DATABASE_URL",
                url: "postgres://b".into()
            }
        );
    }

    /// With no URL, a reachable Docker means "start a container".
    #[test]
    fn without_a_url_docker_is_used_when_it_answers() {
        let env = env_of(&[]);
        assert_eq!(
            choose(Service::Kafka, &env, &docker_up()).unwrap(),
            Choice::StartContainer
        );
    }

    /// An empty variable is treated as unset rather than as an empty URL.
    #[test]
    fn an_empty_variable_counts_as_unset() {
        let env = env_of(&[("LAB_REDIS_URL", "  ")]);
        assert_eq!(
            choose(Service::Redis, &env, &docker_up()).unwrap(),
            Choice::StartContainer
        );
    }

    /// With neither, the error names the variable, the Docker host and both remedies.
    #[test]
    fn with_neither_the_error_names_both_ways_to_get_the_service() {
        let env = env_of(&[]);
        for service in Service::ALL {
            let err = choose(service, &env, &docker_down())
                .unwrap_err()
                .to_string();
            assert!(err.contains(service.env_vars()[0]), "{err}");
            assert!(err.contains("Docker"), "{err}");
            assert!(err.contains("unix:///var/run/docker.sock"), "{err}");
            assert!(err.contains(service.example_value()), "{err}");
        }
    }
}
