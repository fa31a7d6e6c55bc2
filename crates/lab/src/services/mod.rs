//! The services, as the learner sees them: where each one is, how it was found,
//! whether it answers; and the lab's own throwaway servers (`cargo lab services
//! up | down | status`).
//!
//! Where to look is not decided here: [`labkit_locate`] holds the order, and
//! labkit (the tests) asks the same crate, so the dashboard never says one thing
//! while the tests do another.

pub mod compose;
pub mod instance;
pub mod local;

use std::path::Path;
use std::time::Duration;

use labkit_locate::{LocateError, Located, Service, Sources, probe};

/// Wait for `child` at most `limit`; past it, kill it and say `what` did not
/// finish. Every command the services code runs ends through here, so none can
/// hang `up` or `down`.
pub fn wait_bounded(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> anyhow::Result<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("{what} did not finish within {}s; stopped", limit.as_secs());
        }
        // A child process offers no readiness notification to wait on here.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One service: what resolution found, and whether it answers now.
pub struct ServiceStatus {
    pub service: Service,
    pub found: Result<Option<Located>, LocateError>,
    /// `None` when nothing was found.
    pub answers: Option<Health>,
}

/// What a found service did when asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// It answered as the kind of server expected; with the version it
    /// announced, when its handshake carries one (MariaDB's greeting does, and
    /// two SQL engines' exercises depend on which one is there).
    Answers(Option<String>),
    /// Nothing accepted a connection, or it went silent.
    Down(String),
    /// Something answered, and turned the lab away (a password, NOAUTH, …).
    Refuses(String),
}

impl Health {
    pub fn is_answering(&self) -> bool {
        matches!(self, Health::Answers(_))
    }
}

impl ServiceStatus {
    /// One line for the dashboard and `services status`.
    pub fn line(&self, docker: bool) -> String {
        match (&self.found, &self.answers) {
            (Err(e), _) => format!("NOT USABLE: {e}"),
            (Ok(Some(found)), Some(Health::Answers(None))) => {
                format!("{}, answers", found.describe())
            }
            (Ok(Some(found)), Some(Health::Answers(Some(version)))) => {
                format!("{}, answers ({version})", found.describe())
            }
            (Ok(Some(found)), Some(Health::Down(why))) => format!(
                "{} is NOT answering ({why}); {}",
                found.describe(),
                found.origin.unreachable_help(self.service)
            ),
            (Ok(Some(found)), Some(Health::Refuses(why))) => format!(
                "{} answers but turns the lab away: {why}; put the credentials in {}",
                found.describe(),
                self.service.env_vars()[0]
            ),
            (Ok(Some(found)), None) => found.describe(),
            (Ok(None), _) if docker => format!(
                "not found (no {}, nothing from `cargo lab services up`, nothing on {}); a \
                 Docker socket is present, so the tests will start a container",
                self.service.env_vars()[0],
                self.service.default_addr()
            ),
            (Ok(None), _) => format!(
                "not found (no {}, nothing on {}, no Docker): run `cargo lab services up`, or \
                 export {}={}",
                self.service.env_vars()[0],
                self.service.default_addr(),
                self.service.env_vars()[0],
                self.service.example_value()
            ),
        }
    }
}

/// Resolve every service the way the tests will, and ask each one found whether
/// it answers (a login for Postgres, `PING` for Redis, a connection for Kafka,
/// the greeting for MariaDB).
pub fn statuses(sources: &Sources) -> Vec<ServiceStatus> {
    Service::ALL
        .into_iter()
        .map(|service| {
            let found = sources.locate(service);
            let answers = match &found {
                Ok(Some(located)) => Some(answers(located)),
                _ => None,
            };
            ServiceStatus {
                service,
                found,
                answers,
            }
        })
        .collect()
}

/// Is the service at `located` there, and the kind of server we expect?
pub fn answers(located: &Located) -> Health {
    let timeout = Duration::from_secs(2);
    let Some(addr) = first_addr(located) else {
        return Health::Down(format!("no host:port in {}", located.url));
    };
    match located.service {
        // A URL the user gave may carry a password the probe does not speak;
        // for those, a connection is all that is checked.
        Service::Postgres if !has_password(&located.url) => {
            match probe::postgres_login(
                &addr,
                &user_of(&located.url),
                &database_of(&located.url),
                timeout,
            ) {
                Ok(()) => Health::Answers(None),
                Err(probe::LoginProblem::Io(e)) => Health::Down(e),
                Err(other) => Health::Refuses(other.to_string()),
            }
        }
        Service::Redis if !has_password(&located.url) => match probe::redis_ping(&addr, timeout) {
            Ok(()) => Health::Answers(None),
            Err(e) if e.starts_with('-') || e.starts_with("NOAUTH") => Health::Refuses(e),
            Err(e) => Health::Down(e),
        },
        // The server speaks first, before any credentials, so a URL with a
        // password is checked the same way. Whatever does not greet like MariaDB
        // (or MySQL) is as good as absent: no password would help.
        Service::Mysql => match probe::mysql_greeting(&addr, timeout) {
            Ok(version) => Health::Answers(Some(version)),
            Err(e) => Health::Down(e),
        },
        _ if probe::tcp_answers(&addr, timeout) => Health::Answers(None),
        _ => Health::Down(format!("nothing accepts connections on {addr}")),
    }
}

/// The first `host:port` of a URL or broker list, with the service's default port.
pub fn first_addr(located: &Located) -> Option<String> {
    let default_port = match located.service {
        Service::Postgres => 5432,
        Service::Redis => 6379,
        Service::Kafka => 9092,
        Service::Mysql => 3306,
    };
    let first = located.url.split(',').next()?.trim();
    let without_scheme = first.split_once("://").map_or(first, |(_, rest)| rest);
    let authority = without_scheme.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.is_empty() {
        return None;
    }
    if host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        Some(host_port.to_string())
    } else {
        Some(format!("{host_port}:{default_port}"))
    }
}

fn userinfo(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    Some(authority.rsplit_once('@')?.0)
}

fn has_password(url: &str) -> bool {
    userinfo(url).is_some_and(|u| u.contains(':'))
}

fn database_of(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, path)| path.split('?').next().unwrap_or_default().to_string())
        .filter(|db| !db.is_empty())
        .unwrap_or_else(|| "postgres".to_string())
}

fn user_of(url: &str) -> String {
    userinfo(url)
        .filter(|u| !u.is_empty())
        .unwrap_or("postgres")
        .to_string()
}

/// Is a Docker socket there at all? The same places labkit looks
/// ([`labkit_locate::docker_socket_candidates`]); labkit pings it before use.
pub fn docker_socket_present() -> bool {
    labkit_locate::docker_socket_candidates()
        .iter()
        .any(|c| match c.strip_prefix("unix://") {
            Some(path) => Path::new(path).exists(),
            None => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use labkit_locate::Origin;

    fn located(service: Service, url: &str) -> Located {
        Located {
            service,
            url: url.into(),
            origin: Origin::DefaultPort,
        }
    }

    /// The address comes from a URL with or without credentials, port or path.
    #[test]
    fn the_first_address_is_read_from_any_url_shape() {
        let cases = [
            (
                Service::Postgres,
                "postgres://u:p@db:6000/x?sslmode=disable",
                "db:6000",
            ),
            (Service::Postgres, "postgres://db/x", "db:5432"),
            (Service::Redis, "redis://127.0.0.1", "127.0.0.1:6379"),
            (Service::Kafka, "a:1,b:2", "a:1"),
            (Service::Mysql, "mysql://root@db/mysql", "db:3306"),
            (
                Service::Mysql,
                "mysql://u:p@127.0.0.1:13306/x",
                "127.0.0.1:13306",
            ),
        ];
        for (service, url, want) in cases {
            assert_eq!(
                first_addr(&located(service, url)).as_deref(),
                Some(want),
                "{url}"
            );
        }
        assert!(has_password("postgres://u:p@h/x") && !has_password("postgres://u@h/x"));
        assert_eq!(user_of("postgres://alice@h/x"), "alice");
        assert_eq!(user_of("postgres://h/x"), "postgres");
        assert_eq!(database_of("postgres://h/lab_x?sslmode=disable"), "lab_x");
        assert_eq!(database_of("postgres://h"), "postgres");
    }
}
