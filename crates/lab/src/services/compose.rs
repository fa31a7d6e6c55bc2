//! The Docker path of `cargo lab services up`: `docker/compose.yml`.
//!
//! Compose already knows how to start, health-check and remove these servers;
//! the lab only asks it to (`up -d --wait`, bounded) and writes the addresses the
//! compose file publishes into the endpoints file, like the local path does.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use labkit_locate::Service;

use super::instance::{How, Instance};

/// How long compose may take to pull, start and see every service healthy.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(300);

/// The address each compose service publishes on the host (see the compose file).
pub fn url(service: Service) -> &'static str {
    match service {
        // The image's superuser has a password; trust is for the local path only.
        // The lab's own ports, as on the local path: a system server on the
        // default port does not stop compose from starting.
        Service::Postgres => "postgres://postgres:postgres@127.0.0.1:15432/postgres",
        Service::Redis => "redis://127.0.0.1:16379",
        Service::Kafka => "127.0.0.1:19092",
        // The image's root has no password (MARIADB_ALLOW_EMPTY_ROOT_PASSWORD),
        // as on the local path and on a default port.
        Service::Mysql => "mysql://root@127.0.0.1:13306/mysql",
    }
}

/// The name of `service` in the compose file. The same as its key, but for
/// MariaDB: the file names the server it runs (`mariadb`), while the lab's key
/// (`mysql`) names the protocol, as sqlx and labkit's feature do.
pub fn compose_name(service: Service) -> &'static str {
    match service {
        Service::Postgres | Service::Redis | Service::Kafka => service.key(),
        Service::Mysql => "mariadb",
    }
}

/// Does a Docker engine answer `docker info` within five seconds?
pub fn docker_answers() -> bool {
    let Ok(mut child) = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    super::wait_bounded(&mut child, Duration::from_secs(5), "docker info")
        .is_ok_and(|status| status.success())
}

/// `docker compose -f <file> up -d --wait …`, as arguments (unit-tested).
pub fn up_args(compose_file: &Path, services: &[Service]) -> Vec<String> {
    let mut args = vec![
        "compose".to_string(),
        "-f".to_string(),
        compose_file.display().to_string(),
        "up".to_string(),
        "-d".to_string(),
        "--wait".to_string(),
        "--wait-timeout".to_string(),
        WAIT_TIMEOUT.as_secs().to_string(),
    ];
    args.extend(services.iter().map(|s| compose_name(*s).to_string()));
    args
}

/// `docker compose -f <file> rm --stop --force -v <services…>`: only the named ones.
pub fn down_args(compose_file: &Path, services: &[Service]) -> Vec<String> {
    let mut args = vec![
        "compose".to_string(),
        "-f".to_string(),
        compose_file.display().to_string(),
        "rm".to_string(),
        "--stop".to_string(),
        "--force".to_string(),
        "-v".to_string(),
    ];
    args.extend(services.iter().map(|s| compose_name(*s).to_string()));
    args
}

/// Run `docker …` within [`WAIT_TIMEOUT`] and ten minutes to pull images.
fn docker(args: &[String]) -> anyhow::Result<()> {
    let limit = WAIT_TIMEOUT + Duration::from_secs(600);
    let mut child = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .context("running docker")?;
    let status = super::wait_bounded(&mut child, limit, &format!("`docker {}`", args.join(" ")))?;
    if !status.success() {
        bail!("`docker {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Start `services` with compose, bounded by [`WAIT_TIMEOUT`] plus time to pull.
pub fn up(compose_file: &Path, services: &[Service]) -> anyhow::Result<()> {
    docker(&up_args(compose_file, services))
}

/// How each of `services` is recorded once compose was asked to start it.
pub fn instances(compose_file: &Path, services: &[Service]) -> Vec<Instance> {
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    services
        .iter()
        .map(|s| Instance {
            service: s.key().to_string(),
            how: How::Compose,
            url: url(*s).to_string(),
            pid: None,
            command_contains: None,
            data_dir: None,
            run_as: None,
            bin_dir: None,
            log: compose_file.to_path_buf(),
            started_at,
        })
        .collect()
}

pub fn down(compose_file: &Path, services: &[Service]) -> anyhow::Result<()> {
    docker(&down_args(compose_file, services))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `up` waits for health, within a bound, for just the services asked for;
    /// `down` removes just those, with their volumes.
    #[test]
    fn compose_is_asked_for_exactly_the_services_named() {
        let file = Path::new("/lab/docker/compose.yml");
        assert_eq!(
            up_args(file, &[Service::Postgres, Service::Redis]).join(" "),
            "compose -f /lab/docker/compose.yml up -d --wait --wait-timeout 300 postgres redis"
        );
        assert_eq!(
            down_args(file, &[Service::Kafka, Service::Mysql]).join(" "),
            "compose -f /lab/docker/compose.yml rm --stop --force -v kafka mariadb"
        );
    }

    /// Every service has a compose service of that name in docker/compose.yml,
    /// publishing the port its URL here names.
    #[test]
    fn every_service_is_in_the_compose_file_on_the_port_its_url_names() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docker/compose.yml");
        let text = std::fs::read_to_string(file).expect("docker/compose.yml is readable");
        for service in Service::ALL {
            let name = compose_name(service);
            assert!(
                text.contains(&format!("\n  {name}:\n")),
                "docker/compose.yml has no service {name:?} for {service}"
            );
            let published = url(service);
            let port = published
                .rsplit_once(':')
                .and_then(|(_, rest)| rest.split('/').next())
                .expect("a compose URL ends in a port, or a port and a path");
            assert!(
                text.contains(&format!("\"127.0.0.1:{port}:")),
                "docker/compose.yml does not publish {published}'s port {port} on 127.0.0.1"
            );
        }
    }
}
