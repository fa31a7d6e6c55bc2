//! A quick look at the services, for the dashboard. The tests' own resolution
//! lives in labkit; this only reports what a learner needs to know up front.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// One line per service: where it would come from, and whether it answers.
pub struct ServiceStatus {
    pub name: &'static str,
    pub variable: &'static str,
    pub value: Option<String>,
    pub reachable: Option<bool>,
}

pub fn statuses() -> Vec<ServiceStatus> {
    [
        ("Postgres", &["LAB_POSTGRES_URL", "DATABASE_URL"][..], 5432),
        ("Redis", &["LAB_REDIS_URL"][..], 6379),
        ("Kafka", &["LAB_KAFKA_BROKERS"][..], 9092),
    ]
    .into_iter()
    .map(|(name, vars, default_port)| {
        let found = vars.iter().find_map(|v| {
            std::env::var(v)
                .ok()
                .filter(|s| !s.trim().is_empty())
                .map(|s| (*v, s))
        });
        match found {
            Some((variable, value)) => ServiceStatus {
                name,
                variable,
                reachable: Some(answers(&value, default_port)),
                value: Some(value),
            },
            None => ServiceStatus {
                name,
                variable: vars[0],
                value: None,
                reachable: None,
            },
        }
    })
    .collect()
}

/// Is a Docker socket there at all? (labkit pings it properly before use.)
pub fn docker_socket_present() -> bool {
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        return !host.trim().is_empty();
    }
    Path::new("/var/run/docker.sock").exists()
}

/// A TCP connect within 300 ms to the first host:port in a URL or broker list.
fn answers(value: &str, default_port: u16) -> bool {
    let first = value.split(',').next().unwrap_or_default().trim();
    let without_scheme = first.split_once("://").map_or(first, |(_, rest)| rest);
    let authority = without_scheme.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let addr = if host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host_port.to_string()
    } else {
        format!("{host_port}:{default_port}")
    };
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok())
}
