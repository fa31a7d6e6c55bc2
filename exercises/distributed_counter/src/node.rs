//! Steps 2–5 — a replica as an HTTP service.
//!
//! | request                                   | answer                                      |
//! |-------------------------------------------|---------------------------------------------|
//! | `POST /counters/{name}/increments` `{"delta", "request_id"}` | 200 `{"name", "value", "token"}` once durable |
//! | `GET /counters/{name}` [+ `X-Session-Token`] | 200 `{"name", "value", "token"}`, or 404 |
//! | `POST /internal/gossip`                   | merge a peer's state, answer with ours      |
//! | `POST /admin/sync`                        | run one anti-entropy round now (provided)   |
//!
//! A client may send `X-Session-Token` (the `token` of an earlier answer) on
//! reads and on increments: the answer must cover that state (step 4).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::{MAX_DELTA, MAX_ID_LEN, Mode, NodeConfig};
use crate::crdt::PnCounter;
use crate::error::AppError;
use crate::gossip::{self, Exchange, RoundReport};
use crate::linearizable::SharedStore;
use crate::store::{Store, StoreError};

pub const SESSION_HEADER: &str = "x-session-token";

/// A replica: its configuration, its store, and a client for its peers. (Provided.)
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    config: NodeConfig,
    store: Store,
    shared: Option<SharedStore>,
    http: reqwest::Client,
}

impl Node {
    /// `pool` is this node's own database; `shared` the shared one (linearizable mode).
    pub fn new(config: NodeConfig, pool: PgPool, shared: Option<PgPool>) -> Node {
        Node {
            inner: Arc::new(Inner {
                config,
                store: Store::new(pool),
                shared: shared.map(SharedStore::new),
                http: reqwest::Client::new(),
            }),
        }
    }

    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    fn shared(&self) -> Result<&SharedStore, AppError> {
        self.inner
            .shared
            .as_ref()
            .ok_or_else(|| AppError::Internal("linearizable mode without a shared store".into()))
    }

    /// Run a store call within the node's timeout: too slow, unreachable or
    /// shutting down (SQLSTATE 57P01–57P03) is 503; an overflow is 422.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, AppError> {
        // TODO(step 2)
        todo!("step 2: Node::bounded — see README step 2")
    }
}

/// The routes. (Provided.)
pub fn router(node: Node) -> Router {
    Router::new()
        .route("/counters/{name}/increments", post(increment))
        .route("/counters/{name}", get(read))
        .route("/internal/gossip", post(receive_gossip))
        .route("/admin/sync", post(sync_now))
        .with_state(node)
}

/// Serve until `shutdown`, running periodic gossip if configured. (Provided.)
pub async fn serve(
    listener: TcpListener,
    node: Node,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let gossip = node
        .config()
        .gossip_interval
        .filter(|_| node.config().mode == Mode::Crdt)
        .map(|every| gossip::spawn_periodic(node.clone(), every));
    let served = axum::serve(listener, router(node))
        .with_graceful_shutdown(shutdown)
        .await;
    if let Some(task) = gossip {
        task.abort();
    }
    served
}

#[derive(Serialize)]
pub struct CounterView {
    pub name: String,
    pub value: i64,
    /// The session token: send it back as `X-Session-Token`.
    pub token: String,
}

fn check_name(name: &str) -> Result<(), AppError> {
    if name.is_empty() || name.len() > MAX_ID_LEN {
        return Err(AppError::InvalidName);
    }
    Ok(())
}

/// `{"delta": <integer>, "request_id": "<string>"}`: not JSON → 400, no request
/// id → 400, a delta that is not a non-zero integer within ±MAX_DELTA → 422.
fn parse_increment(body: &[u8]) -> Result<(i64, String), AppError> {
    // TODO(step 2)
    todo!("step 2: node::parse_increment — see README step 2")
}

async fn increment(
    State(node): State<Node>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CounterView>, AppError> {
    // TODO(step 2): apply to this replica's slot in its store, answer with the
    // value and token once durable.
    // TODO(step 4): a malformed X-Session-Token is 400 (before applying); merge
    // a presented token into the answer, so it covers what the client saw.
    // TODO(step 5): in linearizable mode, go to the shared store instead.
    todo!("step 2: node::increment — see README steps 2, 4 and 5")
}

async fn read(
    State(node): State<Node>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<CounterView>, AppError> {
    // TODO(step 2): the local state, or 404.
    // TODO(step 4): never answer with less than the X-Session-Token shows (a
    // node that never heard of the counter answers from the token; an empty
    // token shows nothing, so it leaves a 404 a 404); malformed is 400.
    // TODO(step 5): in linearizable mode, read the shared store (a malformed
    // token is still 400).
    todo!("step 2: node::read — see README steps 2, 4 and 5")
}

async fn receive_gossip(
    State(node): State<Node>,
    Json(theirs): Json<Exchange>,
) -> Result<Json<Exchange>, AppError> {
    // TODO(step 3): merge theirs, answer with ours.
    todo!("step 3: node::receive_gossip — see README step 3")
}

/// `POST /admin/sync`. (Provided.)
async fn sync_now(State(node): State<Node>) -> Json<RoundReport> {
    Json(gossip::sync_round(&node).await)
}
