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
    args.extend(services.iter().map(|s| s.key().to_string()));
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
    args.extend(services.iter().map(|s| s.key().to_string()));
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
            down_args(file, &[Service::Kafka]).join(" "),
            "compose -f /lab/docker/compose.yml rm --stop --force -v kafka"
        );
    }
}
