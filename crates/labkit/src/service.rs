//! Where a service comes from: the environment, the lab's own services, a
//! server on the default port, a container, or a clear "no".
//!
//! The first three steps are [`labkit_locate`]'s, shared with `cargo lab` so the
//! dashboard and the tests can never disagree:
//!
//! 1. an explicit URL from the environment — the user said where the service is;
//! 2. what `cargo lab services up` started, read from its file in the user's cache;
//! 3. a server already answering on the default local address (127.0.0.1:5432 as
//!    user `postgres`, 127.0.0.1:6379, 127.0.0.1:9092) — a Postgres there that
//!    wants a password is an error naming `LAB_POSTGRES_URL`, not a fall-through;
//! 4. a container started through Docker — only if Docker answers a ping quickly;
//! 5. an error, within seconds, that names every way to get the service.
//!
//! The last decision ([`choose`]) is a pure function so that its order can be
//! unit-tested on a machine with no Docker at all.

use std::sync::LazyLock;
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::docker::{DockerHost, DockerStatus};

pub use labkit_locate::{LabServices, Located, Origin, Service, Sources};

/// A service's address and how it was found.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub service: Service,
    /// A URL for Postgres and Redis; a `host:port[,host:port]` broker list for Kafka.
    pub url: String,
    pub origin: Origin,
}

impl From<Located> for Endpoint {
    fn from(found: Located) -> Endpoint {
        Endpoint {
            service: found.service,
            url: found.url,
            origin: found.origin,
        }
    }
}

impl Endpoint {
    /// "Redis at redis://127.0.0.1:6379 (from LAB_REDIS_URL)", "Postgres at … (found
    /// listening on the default port)".
    pub fn describe(&self) -> String {
        format!("{} at {} ({})", self.service, self.url, self.origin.how())
    }

    /// What the user can do when this endpoint does not answer.
    pub fn unreachable_help(&self) -> String {
        self.origin.unreachable_help(self.service)
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
            Service::Postgres | Service::Redis | Service::Mysql => {
                let default_port = match self.service {
                    Service::Postgres => 5432,
                    Service::Mysql => 3306,
                    _ => 6379,
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
    /// Found by the environment, the lab's services or the default port.
    Use(Located),
    StartContainer,
}

/// Nothing found and no Docker: the message names every way out.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NoService {
    pub service: Service,
    message: String,
}

impl NoService {
    fn new(service: Service, default_addr: &str, docker: &DockerStatus) -> Self {
        let vars = service.env_vars();
        let not_set = match vars {
            [one] => format!("{one} is not set"),
            [first, rest @ ..] => format!("{first} (or {}) is not set", rest.join(", ")),
            [] => "no environment variable is defined for it".to_string(),
        };
        let message = format!(
            "no {service} for this test: {not_set}, `cargo lab services up` has not started one, nothing answers on {default_addr}, and {docker}.\n\
             Get one any of these ways:\n  \
             1. let the lab start its own:             cargo lab services up\n  \
             2. point the lab at a {service} you run:   export {var}={example}\n  \
             3. or start Docker: labkit then starts a {service} container for the tests by itself",
            var = vars[0],
            example = service.example_value(),
        );
        NoService { service, message }
    }
}

/// Decide where `service` comes from, given what [`Sources::locate`] found and
/// whether Docker answers. Pure.
pub fn choose(
    service: Service,
    located: Option<Located>,
    default_addr: &str,
    docker: &DockerStatus,
) -> Result<Choice, NoService> {
    if let Some(found) = located {
        return Ok(Choice::Use(found));
    }
    if docker.is_available() {
        return Ok(Choice::StartContainer);
    }
    Err(NoService::new(service, default_addr, docker))
}

/// Applies the order against real sources and a real Docker host.
pub struct Resolver {
    sources: Sources,
    docker: DockerHost,
    ping_timeout: Duration,
    // One ping per resolver: a test process with fifty tests pings Docker once.
    docker_status: OnceCell<DockerStatus>,
}

impl Resolver {
    /// The default ping budget. Docker answers `/_ping` in milliseconds when it is
    /// up; a socket that accepts and then says nothing must not cost a test more.
    pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

    /// The process environment, the lab's services file, the default ports, and
    /// the Docker host the environment points at.
    pub fn from_process_env() -> Self {
        Resolver::with_sources(Sources::from_process(), DockerHost::from_env())
    }

    /// An explicit environment, no lab services, the standard default ports.
    pub fn new(
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
        docker: DockerHost,
    ) -> Self {
        Resolver::with_sources(Sources::new(env), docker)
    }

    /// Fully explicit sources (used by tests).
    pub fn with_sources(sources: Sources, docker: DockerHost) -> Self {
        Resolver {
            sources,
            docker,
            ping_timeout: Self::PING_TIMEOUT,
            docker_status: OnceCell::new(),
        }
    }

    pub fn with_ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = timeout;
        self
    }

    /// Find `service` in the order of the module docs.
    ///
    /// Docker is pinged only when nothing earlier found the service, so a user
    /// who set a URL or runs a local server never waits for a Docker ping.
    pub async fn resolve(&self, service: Service) -> anyhow::Result<Endpoint> {
        let sources = self.sources.clone();
        // A loopback probe and, for Postgres, a login check: short, but blocking.
        let located = tokio::task::spawn_blocking(move || sources.locate(service)).await??;
        if let Some(found) = located {
            return Ok(found.into());
        }
        let docker = self
            .docker_status
            .get_or_init(|| crate::docker::ping(&self.docker, self.ping_timeout))
            .await;
        match choose(service, None, self.sources.default_addr(service), docker)? {
            // Unreachable here (handled above), but keep `choose` the one authority.
            Choice::Use(found) => Ok(found.into()),
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

    /// Whatever the first three steps found wins even when Docker is available.
    #[test]
    fn a_located_service_wins_over_docker() {
        let found = Located {
            service: Service::Redis,
            url: "redis://127.0.0.1:6379".into(),
            origin: Origin::DefaultPort,
        };
        let choice = choose(
            Service::Redis,
            Some(found.clone()),
            "127.0.0.1:6379",
            &docker_up(),
        )
        .unwrap();
        assert_eq!(choice, Choice::Use(found));
    }

    /// With nothing found, a reachable Docker means "start a container".
    #[test]
    fn with_nothing_found_docker_is_used_when_it_answers() {
        assert_eq!(
            choose(Service::Kafka, None, "127.0.0.1:9092", &docker_up()).unwrap(),
            Choice::StartContainer
        );
    }

    /// With neither, the error names the variable, `services up`, the default
    /// address, the Docker host and every remedy.
    #[test]
    fn with_nothing_at_all_the_error_names_every_way_to_get_the_service() {
        for service in Service::ALL {
            let err = choose(service, None, service.default_addr(), &docker_down())
                .unwrap_err()
                .to_string();
            assert!(err.contains(service.env_vars()[0]), "{err}");
            assert!(err.contains("cargo lab services up"), "{err}");
            assert!(err.contains(service.default_addr()), "{err}");
            assert!(err.contains("Docker"), "{err}");
            assert!(err.contains("unix:///var/run/docker.sock"), "{err}");
            assert!(err.contains(service.example_value()), "{err}");
        }
    }
}
