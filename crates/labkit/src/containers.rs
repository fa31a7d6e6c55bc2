//! Containers, for users who have Docker and did not point the lab at a service.
//!
//! One container per service per test process, started on first use and shared
//! by every test in the process; isolation between tests comes from databases,
//! key prefixes and topic names, not from separate containers (which would cost
//! seconds per test). Images are pinned so that a test run today and one next
//! year talk to the same server versions.

use std::time::Duration;

use anyhow::Context;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, Image, ImageExt};
#[cfg(feature = "kafka")]
use testcontainers_modules::kafka::apache;
#[cfg(feature = "mysql")]
use testcontainers_modules::mariadb::Mariadb;
#[cfg(feature = "postgres")]
use testcontainers_modules::postgres::Postgres;
#[cfg(feature = "redis")]
use testcontainers_modules::redis::{REDIS_PORT, Redis};
use tokio::sync::OnceCell;

use crate::docker::DockerHost;
use crate::service::{Endpoint, Origin, Service};

#[cfg(feature = "postgres")]
const POSTGRES_TAG: &str = "17-alpine";
#[cfg(feature = "redis")]
const REDIS_TAG: &str = "7.4-alpine";
/// The series the exercises' known answers were observed on (10.11, as on the
/// lab's machines): InnoDB's snapshot-isolation switch is off by default there.
#[cfg(feature = "mysql")]
const MARIADB_TAG: &str = "10.11";

/// The first start may pull an image, which can take minutes on a slow network;
/// after that a start takes seconds. The bound is generous but it is a bound.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(300);

static POSTGRES: OnceCell<Endpoint> = OnceCell::const_new();
static REDIS: OnceCell<Endpoint> = OnceCell::const_new();
static KAFKA: OnceCell<Endpoint> = OnceCell::const_new();
static MYSQL: OnceCell<Endpoint> = OnceCell::const_new();

pub(crate) async fn endpoint(service: Service, docker: &DockerHost) -> anyhow::Result<Endpoint> {
    let cell = match service {
        Service::Postgres => &POSTGRES,
        Service::Redis => &REDIS,
        Service::Kafka => &KAFKA,
        Service::Mysql => &MYSQL,
    };
    let endpoint = cell
        .get_or_try_init(|| async {
            let started = tokio::time::timeout(STARTUP_TIMEOUT, start(service, docker)).await;
            started.with_context(|| {
                format!(
                    "starting a {service} container took longer than {STARTUP_TIMEOUT:?}; \
                     set {} to a {service} you run instead",
                    service.env_vars()[0]
                )
            })?
        })
        .await?;
    Ok(endpoint.clone())
}

// With no service feature on, every arm but the last is compiled out.
#[allow(unreachable_code, unused_variables)]
async fn start(service: Service, docker: &DockerHost) -> anyhow::Result<Endpoint> {
    tracing::info!(%service, "starting a container (the first run pulls the image)");
    let (id, url): (String, String) = match service {
        #[cfg(feature = "postgres")]
        Service::Postgres => {
            let container = launch(Postgres::default().with_tag(POSTGRES_TAG)).await?;
            let port = container.get_host_port_ipv4(5432).await?;
            let url = format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres");
            (keep(container), url)
        }
        #[cfg(feature = "redis")]
        Service::Redis => {
            let container = launch(Redis::default().with_tag(REDIS_TAG)).await?;
            let port = container.get_host_port_ipv4(REDIS_PORT).await?;
            (keep(container), format!("redis://127.0.0.1:{port}"))
        }
        #[cfg(feature = "kafka")]
        Service::Kafka => {
            // Apache Kafka in KRaft mode; the module sets the advertised listener
            // to the mapped port, so clients outside the container can connect.
            let container = launch(apache::Kafka::default().into()).await?;
            let port = container.get_host_port_ipv4(apache::KAFKA_PORT).await?;
            (keep(container), format!("127.0.0.1:{port}"))
        }
        #[cfg(feature = "mysql")]
        Service::Mysql => {
            // The module starts MariaDB with an empty root password.
            let container = launch(Mariadb::default().with_tag(MARIADB_TAG)).await?;
            let port = container.get_host_port_ipv4(3306).await?;
            (
                keep(container),
                format!("mysql://root@127.0.0.1:{port}/mysql"),
            )
        }
        // Only reachable when an exercise asks for a service whose labkit feature
        // it did not turn on; its own code would not compile without the client.
        #[allow(unreachable_patterns)]
        other => anyhow::bail!(
            "labkit was built without its `{}` feature, so it cannot start a {other} container",
            other.name().to_lowercase()
        ),
    };
    crate::cleanup::remove_at_exit(docker.clone(), id.clone());
    Ok(Endpoint {
        service,
        url,
        origin: Origin::Container { id },
    })
}

async fn launch<I: Image>(
    request: testcontainers::ContainerRequest<I>,
) -> anyhow::Result<ContainerAsync<I>> {
    request
        .with_startup_timeout(STARTUP_TIMEOUT)
        .start()
        .await
        .context("Docker answered, but the container did not start")
}

/// Keep the container for the life of the process and return its id.
///
/// `ContainerAsync`'s own `Drop` removes the container using the runtime that
/// created it; that runtime belongs to whichever test came first and is gone long
/// before the process ends. So the handle is leaked on purpose and removal is done
/// by [`crate::cleanup::remove_at_exit`], which needs no runtime.
fn keep<I: Image>(container: ContainerAsync<I>) -> String {
    let id = container.id().to_string();
    std::mem::forget(container);
    id
}
