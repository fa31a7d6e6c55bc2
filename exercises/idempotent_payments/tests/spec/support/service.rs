//! The payment service as a process the test can crash.
//!
//! It runs on a Tokio runtime of its own. "Crashing" it shuts that runtime down
//! at once: every in-flight request stops at whatever `.await` it had reached,
//! its database connections close, and Postgres rolls back whatever transaction
//! was open — what a `kill -9` of the real process would do, minus the process.

use std::future::Future;
use std::net::SocketAddr;

use idempotent_payments::{AppConfig, AppState, ManualClock};
use serde_json::Value;

use super::{CLIENT, SECRET, Signed, signed_headers};

pub struct ServiceProcess {
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ServiceProcess {
    /// Start on a fresh runtime with its own connection pool to `database_url`.
    pub fn start(
        database_url: &str,
        clock: ManualClock,
        config: AppConfig,
    ) -> anyhow::Result<ServiceProcess> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let url = database_url.to_string();
        runtime.spawn(async move {
            let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
                .max_connections(5)
                .connect(&url)
                .await
            else {
                return;
            };
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let state = AppState::new(pool, clock, config);
            let _ = idempotent_payments::serve(listener, state, std::future::pending()).await;
        });
        Ok(ServiceProcess {
            addr,
            runtime: Some(runtime),
        })
    }

    /// `POST /v1/payments` over a real connection, signed as `CLIENT` at
    /// `timestamp`. The future owns what it needs, so a test can spawn it and
    /// crash the service while it is in flight.
    pub fn pay(
        &self,
        key: &str,
        body: &Value,
        timestamp: i64,
    ) -> impl Future<Output = anyhow::Result<labkit::http::HttpResponse>> + Send + 'static {
        let addr = self.addr;
        let bytes = body.to_string().into_bytes();
        let signed = Signed {
            timestamp,
            method: "POST",
            path: "/v1/payments",
            key,
            body: &bytes,
        };
        let mut headers = signed_headers(CLIENT, SECRET, signed);
        headers.push(("idempotency-key".into(), key.into()));
        headers.push(("content-type".into(), "application/json".into()));
        async move {
            let borrowed: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            labkit::http::request(addr, "POST", "/v1/payments", &borrowed, &bytes).await
        }
    }

    /// Crash: stop everything now, mid-request if need be.
    pub fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
