//! Is Docker there? A ping with a hard time limit, and a blocking container removal.
//!
//! testcontainers would tell us too, but only after its own connection timeouts,
//! which are long: a Docker socket that accepts connections and never answers
//! (a stopped Docker Desktop VM, a stale rootless socket) can stall every test for
//! minutes. So labkit speaks the two requests it needs — `GET /_ping` and
//! `DELETE /containers/{id}` — over the raw socket, each inside a short deadline.

use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the Docker engine's API listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DockerHost {
    Unix(PathBuf),
    /// `host:port`, plain HTTP (TLS Docker hosts are left to testcontainers).
    Tcp(String),
}

impl DockerHost {
    /// `DOCKER_HOST` if set, else the first socket that exists among the usual
    /// places (system Docker, Docker Desktop, rootless Docker), else the system
    /// path. The list is [`labkit_locate::docker_socket_candidates`], which the
    /// dashboard reads too.
    pub fn from_env() -> DockerHost {
        let candidates: Vec<DockerHost> = labkit_locate::docker_socket_candidates()
            .iter()
            .filter_map(|c| DockerHost::parse(c))
            .collect();
        if std::env::var("DOCKER_HOST").is_ok_and(|h| !h.trim().is_empty())
            && let Some(first) = candidates.first()
        {
            return first.clone();
        }
        candidates
            .iter()
            .find(|c| matches!(c, DockerHost::Unix(p) if p.exists()))
            .cloned()
            .unwrap_or_else(|| DockerHost::Unix(PathBuf::from("/var/run/docker.sock")))
    }

    /// Parse a `DOCKER_HOST` value: `unix:///path` or `tcp://host:port`.
    pub fn parse(value: &str) -> Option<DockerHost> {
        let value = value.trim();
        if let Some(path) = value.strip_prefix("unix://") {
            Some(DockerHost::Unix(PathBuf::from(path)))
        } else {
            value
                .strip_prefix("tcp://")
                .map(|addr| DockerHost::Tcp(addr.trim_end_matches('/').to_string()))
        }
    }
}

impl fmt::Display for DockerHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerHost::Unix(path) => write!(f, "unix://{}", path.display()),
            DockerHost::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

/// The answer to "can labkit start containers here?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DockerStatus {
    Available { host: String },
    Unavailable { host: String, reason: String },
}

impl DockerStatus {
    pub fn is_available(&self) -> bool {
        matches!(self, DockerStatus::Available { .. })
    }
}

impl fmt::Display for DockerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerStatus::Available { host } => write!(f, "Docker answered at {host}"),
            DockerStatus::Unavailable { host, reason } => {
                write!(f, "Docker did not answer at {host} ({reason})")
            }
        }
    }
}

/// Ask the engine `GET /_ping`; anything but a 200 within `timeout` means unavailable.
pub async fn ping(host: &DockerHost, timeout: Duration) -> DockerStatus {
    let request = "GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    let outcome = tokio::time::timeout(timeout, exchange(host, request)).await;
    let reason = match outcome {
        Err(_) => format!("no answer within {timeout:?}"),
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(response)) if status_code(&response) == Some(200) => {
            return DockerStatus::Available {
                host: host.to_string(),
            };
        }
        Ok(Ok(response)) => format!(
            "unexpected answer to /_ping: {:?}",
            response.lines().next().unwrap_or("")
        ),
    };
    DockerStatus::Unavailable {
        host: host.to_string(),
        reason,
    }
}

async fn exchange(host: &DockerHost, request: &str) -> std::io::Result<String> {
    // HTTP/1.0: the engine closes the connection after answering, so "read to the
    // end" is the whole response. Capped, because we only need the status line.
    let mut buf = Vec::new();
    match host {
        DockerHost::Unix(path) => {
            let mut stream = tokio::net::UnixStream::connect(path).await?;
            stream.write_all(request.as_bytes()).await?;
            (&mut stream).take(4096).read_to_end(&mut buf).await?;
        }
        DockerHost::Tcp(addr) => {
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            stream.write_all(request.as_bytes()).await?;
            (&mut stream).take(4096).read_to_end(&mut buf).await?;
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn status_code(response: &str) -> Option<u16> {
    let line = response.lines().next()?;
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Force-remove a container, blocking, within `timeout`. Used at process exit,
/// when no async runtime is left to run on.
pub fn remove_container_blocking(
    host: &DockerHost,
    id: &str,
    timeout: Duration,
) -> std::io::Result<u16> {
    let request =
        format!("DELETE /containers/{id}?force=true&v=true HTTP/1.0\r\nHost: docker\r\n\r\n");
    let mut buf = Vec::new();
    match host {
        DockerHost::Unix(path) => {
            let mut stream = std::os::unix::net::UnixStream::connect(path)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            stream.write_all(request.as_bytes())?;
            stream.take(4096).read_to_end(&mut buf)?;
        }
        DockerHost::Tcp(addr) => {
            let addr = std::net::ToSocketAddrs::to_socket_addrs(addr.as_str())?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("cannot resolve {addr}")))?;
            let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            stream.write_all(request.as_bytes())?;
            stream.take(4096).read_to_end(&mut buf)?;
        }
    }
    status_code(&String::from_utf8_lossy(&buf))
        .ok_or_else(|| std::io::Error::other("no HTTP status in Docker's answer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::net::UnixListener;

    fn socket_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("labkit-docker-{}-{name}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("docker.sock");
        let _ = std::fs::remove_file(&path);
        path
    }

    /// A missing socket is reported as unavailable at once, with the reason.
    #[tokio::test]
    async fn a_missing_socket_is_unavailable_immediately() {
        let host = DockerHost::Unix(socket_path("missing"));
        let started = Instant::now();
        let status = ping(&host, Duration::from_secs(2)).await;
        assert!(!status.is_available());
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    /// A socket that accepts and never answers costs the ping timeout, not more.
    #[tokio::test]
    async fn a_silent_socket_is_unavailable_after_the_ping_timeout() {
        let path = socket_path("silent");
        let listener = UnixListener::bind(&path).unwrap();
        let _keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream); // accept, then say nothing
            }
        });
        let started = Instant::now();
        let status = ping(&DockerHost::Unix(path), Duration::from_millis(300)).await;
        assert!(!status.is_available(), "{status}");
        assert!(status.to_string().contains("no answer within"), "{status}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// A socket that answers 200 OK to `/_ping` is Docker enough for us.
    #[tokio::test]
    async fn a_socket_answering_ok_is_available() {
        let path = socket_path("ok");
        let listener = UnixListener::bind(&path).unwrap();
        let _serve = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 512];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK")
                    .await;
            }
        });
        let status = ping(&DockerHost::Unix(path), Duration::from_secs(2)).await;
        assert!(status.is_available(), "{status}");
    }

    /// `DOCKER_HOST` values of both kinds parse; other schemes are ignored.
    #[test]
    fn docker_host_values_parse() {
        assert_eq!(
            DockerHost::parse("unix:///run/user/1000/docker.sock"),
            Some(DockerHost::Unix("/run/user/1000/docker.sock".into()))
        );
        assert_eq!(
            DockerHost::parse("tcp://10.0.0.2:2375/"),
            Some(DockerHost::Tcp("10.0.0.2:2375".into()))
        );
        assert_eq!(DockerHost::parse("ssh://me@box"), None);
    }

    /// The blocking removal sends a forced DELETE for the container and reads the status.
    #[test]
    fn removal_sends_a_forced_delete() {
        let path = socket_path("delete");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let n = stream.read(&mut buf).unwrap();
            stream
                .write_all(b"HTTP/1.0 204 No Content\r\n\r\n")
                .unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        let status =
            remove_container_blocking(&DockerHost::Unix(path), "abc123", Duration::from_secs(2))
                .unwrap();
        assert_eq!(status, 204);
        let request = server.join().unwrap();
        assert!(
            request.starts_with("DELETE /containers/abc123?force=true"),
            "{request}"
        );
    }
}
