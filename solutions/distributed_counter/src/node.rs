//! Steps 2–5 — a replica as an HTTP service.
//!
//! | request                                   | answer                                      |
//! |-------------------------------------------|---------------------------------------------|
//! | `POST /counters/{name}/increments` `{"delta", "request_id"}` | 200 `{"name", "value", "token"}` once durable |
//! | `GET /counters/{name}` [+ `X-Session-Token`] | 200 `{"name", "value", "token"}`, or 404 |
//! | `POST /internal/gossip`                   | merge a peer's state, answer with ours      |
//! | `POST /admin/sync`                        | run one anti-entropy round now              |
//!
//! ## Session guarantees
//! The `token` in every answer is the counter's state as the client saw it. A
//! client that sends it back (`X-Session-Token`), on reads and on increments,
//! is answered with at least that state, whichever node it asks: the node
//! merges the token into what it has before answering (for a state-based CRDT
//! the version vector *is* the state, so this is a valid merge, not a guess).
//! That gives read-your-writes and monotonic reads across nodes, even during a
//! partition. The token is merged into the *answer* only, never stored: gossip
//! carries the real slots, and a stored client state would spread to every node.
//!
//! A token says nothing about which counter it came from, so a client must
//! present it only on that counter. In production the token would be signed
//! together with the counter's name, or a client could inflate counts by
//! forging one (or by showing one counter's token on another).
//!
//! ## Failure
//! Every store call is bounded by `timeout` (the gossip round's too, see
//! `gossip`); a node that cannot reach its database, or whose database is
//! shutting down, answers 503. An increment is answered 200 only after its
//! commit.

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

/// A replica: its configuration, its store, and a client for its peers.
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

    /// Run a store call within the node's timeout; a store that cannot be
    /// reached in time, or is shutting down, is a 503, never a hang.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, AppError> {
        match tokio::time::timeout(self.config().timeout, call).await {
            Err(_) => Err(AppError::Unavailable),
            Ok(Err(StoreError::Overflow)) => {
                Err(AppError::InvalidDelta("the counter would overflow".into()))
            }
            Ok(Err(StoreError::Database(e))) => Err(match e {
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                    AppError::Unavailable
                }
                // admin_shutdown, crash_shutdown, cannot_connect_now: Postgres is
                // stopping or starting (a restart, a failover). Unavailable, not broken.
                sqlx::Error::Database(db)
                    if matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03")) =>
                {
                    AppError::Unavailable
                }
                other => AppError::Internal(other.to_string()),
            }),
            Ok(Ok(value)) => Ok(value),
        }
    }
}

pub fn router(node: Node) -> Router {
    Router::new()
        .route("/counters/{name}/increments", post(increment))
        .route("/counters/{name}", get(read))
        .route("/internal/gossip", post(receive_gossip))
        .route("/admin/sync", post(sync_now))
        .with_state(node)
}

/// Serve until `shutdown`, running periodic gossip if configured.
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

/// Parse `{"delta": <integer>, "request_id": "<string>"}` by hand, so that each
/// kind of bad input gets its own answer: not JSON → 400, no request id → 400,
/// a delta that is not a non-zero integer within ±MAX_DELTA → 422.
fn parse_increment(body: &[u8]) -> Result<(i64, String), AppError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| AppError::MalformedJson)?;
    let request_id = value
        .get("request_id")
        .and_then(|v| v.as_str())
        .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN)
        .ok_or(AppError::MissingRequestId)?
        .to_string();
    let delta = value
        .get("delta")
        .ok_or_else(|| AppError::InvalidDelta("delta is missing".into()))?;
    let delta = delta
        .as_i64()
        .ok_or_else(|| AppError::InvalidDelta(format!("{delta} is not an integer in range")))?;
    if delta == 0 {
        return Err(AppError::InvalidDelta("delta must not be zero".into()));
    }
    if delta.unsigned_abs() > MAX_DELTA.unsigned_abs() {
        return Err(AppError::InvalidDelta(format!(
            "|delta| must be at most {MAX_DELTA}"
        )));
    }
    Ok((delta, request_id))
}

/// The client's `X-Session-Token`, if it sent one that shows anything: 400 if
/// it cannot be parsed, in either mode. An empty token (the empty state's, which
/// is also what linearizable mode answers) has seen nothing and counts as none,
/// so it cannot make a counter nobody incremented exist.
fn session_token(headers: &HeaderMap) -> Result<Option<PnCounter>, AppError> {
    let Some(raw) = headers.get(SESSION_HEADER) else {
        return Ok(None);
    };
    let token = raw
        .to_str()
        .ok()
        .and_then(PnCounter::from_token)
        .ok_or(AppError::InvalidSessionToken)?;
    Ok((token != PnCounter::default()).then_some(token))
}

async fn increment(
    State(node): State<Node>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CounterView>, AppError> {
    check_name(&name)?;
    let (delta, request_id) = parse_increment(&body)?;
    // Checked before anything is applied: a malformed token refuses the request.
    let seen = session_token(&headers)?;
    match node.config().mode {
        Mode::Crdt => {
            let replica = node.config().replica.clone();
            let mut state = node
                .bounded(node.store().increment(&name, &replica, delta, &request_id))
                .await?;
            // The client may have seen more than this node has (it read at
            // another node): answer with both, so that its next read, anywhere,
            // starts from at least what it is told now.
            if let Some(token) = seen {
                state.merge(&token);
            }
            Ok(Json(CounterView {
                name,
                value: state.value(),
                token: state.to_token(),
            }))
        }
        Mode::Linearizable => {
            let value = node
                .bounded(node.shared()?.increment(&name, delta, &request_id))
                .await?;
            Ok(Json(CounterView {
                name,
                value,
                token: String::new(),
            }))
        }
    }
}

async fn read(
    State(node): State<Node>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<CounterView>, AppError> {
    check_name(&name)?;
    // Checked in both modes: a client sending garbage learns it either way.
    let seen = session_token(&headers)?;
    if node.config().mode == Mode::Linearizable {
        // A linearizable read is already at least as new as anything
        // acknowledged anywhere: the token has nothing to add.
        let value = node
            .bounded(node.shared()?.get(&name))
            .await?
            .ok_or(AppError::CounterNotFound)?;
        return Ok(Json(CounterView {
            name,
            value,
            token: String::new(),
        }));
    }
    let local = node.bounded(node.store().load(&name)).await?;
    let state = match (local, seen) {
        (None, None) => return Err(AppError::CounterNotFound),
        (Some(state), None) => state,
        // This node has not heard of the counter yet, but the client has.
        (None, Some(token)) => token,
        (Some(mut state), Some(token)) => {
            // Never answer with less than the client has already seen.
            state.merge(&token);
            state
        }
    };
    Ok(Json(CounterView {
        name,
        value: state.value(),
        token: state.to_token(),
    }))
}

async fn receive_gossip(
    State(node): State<Node>,
    Json(theirs): Json<Exchange>,
) -> Result<Json<Exchange>, AppError> {
    node.bounded(node.store().merge_all(&theirs.counters))
        .await?;
    let counters = node.bounded(node.store().all()).await?;
    Ok(Json(Exchange {
        from: node.config().replica.clone(),
        counters,
    }))
}

async fn sync_now(State(node): State<Node>) -> Json<RoundReport> {
    Json(gossip::sync_round(&node).await)
}
