// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! Wiring: the state every handler shares, and serving it.

use std::future::Future;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::AppConfig;
use crate::processor::ProcessorClient;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<AppConfig>,
    /// `None` when no processor is configured: payments are not charged.
    pub processor: Option<ProcessorClient>,
}

impl AppState {
    pub fn new(pool: PgPool, clock: impl Clock, config: AppConfig) -> AppState {
        AppState {
            processor: config.processor.as_ref().map(ProcessorClient::new),
            pool,
            clock: Arc::new(clock),
            config: Arc::new(config),
        }
    }
}

/// Serve the API on `listener` until `shutdown` resolves. The caller binds the
/// socket (tests use port 0) and decides when to stop.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = crate::api::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
