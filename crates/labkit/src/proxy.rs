//! A TCP proxy a test can break on purpose.
//!
//! Put it between the code under test and a service, hand the code the proxy's
//! address, and the test decides what the network does:
//!
//! | call        | what the code under test sees                                        |
//! |-------------|-----------------------------------------------------------------------|
//! | `cut()`     | every open connection closes at once; new ones close as soon as they connect (a crashed server, a partition that resets) |
//! | `stall()`   | connections stay open but no byte moves in either direction (a black hole: the failure only a timeout notices) |
//! | `slow(d)`   | every chunk of bytes is delayed by `d` (a congested link)              |
//! | `restore()` | bytes flow normally again; connections opened from now on work       |
//!
//! It works the same with or without Docker, because it sits on loopback in the
//! test process. It suits request/response protocols whose clients connect to the
//! address they are given (Postgres, Redis, HTTP). Kafka clients are redirected to
//! the broker's *advertised* address after the first request, bypassing any proxy;
//! Kafka exercises inject faults by killing the consumers and producers they spawn.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy currently does with bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Slow(Duration),
    Stall,
    Cut,
}

/// See the module documentation.
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: String,
    proxied_url: Option<String>,
    mode: watch::Sender<Mode>,
    accepted: Arc<AtomicU64>,
    acceptor: JoinHandle<()>,
}

impl FaultProxy {
    /// Start a proxy on `127.0.0.1:<random port>` forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: impl Into<String>) -> anyhow::Result<FaultProxy> {
        crate::init_tracing();
        let upstream = upstream.into();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the fault proxy to a loopback port")?;
        let addr = listener.local_addr()?;
        let (mode, _) = watch::channel(Mode::Pass);
        let accepted = Arc::new(AtomicU64::new(0));
        let acceptor = tokio::spawn(accept_loop(
            listener,
            upstream.clone(),
            mode.clone(),
            accepted.clone(),
        ));
        Ok(FaultProxy {
            addr,
            upstream,
            proxied_url: None,
            mode,
            accepted,
            acceptor,
        })
    }

    /// Start a proxy in front of the host and port of `url` (e.g. `redis://127.0.0.1:6379/0`);
    /// [`FaultProxy::url`] is then the same URL pointing at the proxy.
    pub async fn for_url(url: &str) -> anyhow::Result<FaultProxy> {
        let mut parsed = url::Url::parse(url).with_context(|| format!("not a URL: {url}"))?;
        let host = parsed.host_str().context("URL without a host")?.to_string();
        let port = parsed
            .port_or_known_default()
            .context("URL without a port")?;
        let mut proxy = FaultProxy::start(format!("{host}:{port}")).await?;
        parsed
            .set_host(Some("127.0.0.1"))
            .map_err(|e| anyhow::anyhow!("cannot rewrite {url}: {e}"))?;
        parsed
            .set_port(Some(proxy.addr.port()))
            .map_err(|()| anyhow::anyhow!("cannot set a port on {url}"))?;
        proxy.proxied_url = Some(parsed.to_string());
        Ok(proxy)
    }

    /// The proxy's own address: give this to the code under test.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// For a proxy made by [`FaultProxy::for_url`]: the URL through the proxy.
    pub fn url(&self) -> &str {
        self.proxied_url
            .as_deref()
            .expect("FaultProxy::url is only set by FaultProxy::for_url; use addr() otherwise")
    }

    /// Where bytes go when they flow.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    pub fn cut(&self) {
        self.set(Mode::Cut);
    }

    pub fn stall(&self) {
        self.set(Mode::Stall);
    }

    pub fn slow(&self, delay: Duration) {
        self.set(Mode::Slow(delay));
    }

    pub fn restore(&self) {
        self.set(Mode::Pass);
    }

    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    /// Connections accepted since start (including those closed by a cut): a test
    /// can assert that a client reconnected rather than reusing a dead socket.
    pub fn connections_accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    fn set(&self, mode: Mode) {
        tracing::debug!(proxy = %self.addr, upstream = %self.upstream, ?mode, "fault proxy mode");
        self.mode.send_replace(mode);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Stop accepting; open connections notice the sender is gone and close.
        self.acceptor.abort();
        self.mode.send_replace(Mode::Cut);
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    mode: watch::Sender<Mode>,
    accepted: Arc<AtomicU64>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        accepted.fetch_add(1, Ordering::SeqCst);
        if *mode.borrow() == Mode::Cut {
            drop(client); // a cut link: the connection closes as soon as it opens
            continue;
        }
        tokio::spawn(relay(client, upstream.clone(), mode.subscribe()));
    }
}

async fn relay(client: TcpStream, upstream: String, mode: watch::Receiver<Mode>) {
    // Connecting upstream is itself bounded: the proxy must not hang a test either.
    let Ok(Ok(server)) =
        tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&upstream)).await
    else {
        return;
    };
    // Protocols like Redis send small request/response pairs: without NODELAY,
    // Nagle's algorithm would add latency the test did not ask for.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, mode.clone()),
        pump(server_read, client_write, mode),
    );
}

/// Copy one direction, obeying the mode for each chunk.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            // A cut (or a dropped proxy) ends the relay even while idle.
            _ = mode.wait_for(|m| *m == Mode::Cut) => return,
        };
        let n = match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await; // pass the half-close on
                return;
            }
            Ok(n) => n,
        };
        // Hold the chunk until the mode lets it through.
        loop {
            let current = *mode.borrow_and_update();
            match current {
                Mode::Pass => break,
                Mode::Cut => return,
                Mode::Slow(delay) => {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => break,
                        changed = mode.changed() => if changed.is_err() { return },
                    }
                }
                Mode::Stall => {
                    if mode.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn echo_once(
        stream: &mut TcpStream,
        msg: &[u8],
        limit: Duration,
    ) -> anyhow::Result<Vec<u8>> {
        stream.write_all(msg).await?;
        let mut buf = vec![0u8; msg.len()];
        tokio::time::timeout(limit, stream.read_exact(&mut buf)).await??;
        Ok(buf)
    }

    /// In pass mode the proxy is transparent.
    #[tokio::test]
    async fn bytes_flow_through_in_pass_mode() {
        let proxy = FaultProxy::start(echo_server().await.to_string())
            .await
            .unwrap();
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(
            echo_once(&mut s, b"ping", Duration::from_secs(2))
                .await
                .unwrap(),
            b"ping"
        );
    }

    /// A cut closes open connections and new ones; restore makes new ones work.
    #[tokio::test]
    async fn cut_closes_connections_and_restore_reopens_the_link() {
        let proxy = FaultProxy::start(echo_server().await.to_string())
            .await
            .unwrap();
        let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
        echo_once(&mut open, b"a", Duration::from_secs(2))
            .await
            .unwrap();

        proxy.cut();
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(2), open.read(&mut buf))
            .await
            .unwrap();
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "an open connection must close on cut"
        );
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(
            echo_once(&mut fresh, b"b", Duration::from_millis(500))
                .await
                .is_err()
        );

        proxy.restore();
        let mut again = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(
            echo_once(&mut again, b"c", Duration::from_secs(2))
                .await
                .unwrap(),
            b"c"
        );
        assert_eq!(proxy.connections_accepted(), 3);
    }

    /// A stall keeps the connection open but moves nothing until restored, and
    /// then delivers what was held.
    #[tokio::test]
    async fn stall_holds_bytes_until_restored() {
        let proxy = FaultProxy::start(echo_server().await.to_string())
            .await
            .unwrap();
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        proxy.stall();
        s.write_all(b"held").await.unwrap();
        let mut buf = [0u8; 4];
        let early = tokio::time::timeout(Duration::from_millis(300), s.read_exact(&mut buf)).await;
        assert!(early.is_err(), "nothing may arrive while stalled");
        proxy.restore();
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"held");
    }

    /// Slow mode delays each chunk by at least the given duration (structure, not
    /// speed: the lower bound is what the proxy guarantees).
    #[tokio::test]
    async fn slow_mode_delays_each_chunk() {
        let proxy = FaultProxy::start(echo_server().await.to_string())
            .await
            .unwrap();
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        proxy.slow(Duration::from_millis(100));
        let started = tokio::time::Instant::now();
        echo_once(&mut s, b"x", Duration::from_secs(5))
            .await
            .unwrap();
        // One delay on the way in and one on the way back.
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
    }

    /// `for_url` rewrites only the host and port of the URL.
    #[tokio::test]
    async fn for_url_points_the_same_url_at_the_proxy() {
        let upstream = echo_server().await;
        let proxy = FaultProxy::for_url(&format!("redis://{upstream}/3"))
            .await
            .unwrap();
        assert_eq!(
            proxy.url(),
            format!("redis://127.0.0.1:{}/3", proxy.addr().port())
        );
        assert_eq!(proxy.upstream(), upstream.to_string());
    }
}
