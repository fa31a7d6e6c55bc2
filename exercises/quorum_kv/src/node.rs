// PROVIDED: read it, do not change it.
//! One node: a replica (its own Postgres database) and a coordinator, behind
//! one axum router.
//!
//! | route                 | who calls it     | what it does                                         |
//! |-----------------------|------------------|------------------------------------------------------|
//! | `PUT /kv/{key}`       | clients          | coordinate a write: `{"value": …, "context": {…}}`; `?consistency=one\|quorum\|all` |
//! | `GET /kv/{key}`       | clients          | coordinate a read: `{"values": […], "context": {…}, "trace": {…}}` |
//! | `POST /replica/{key}` | coordinators     | store versions here (or, with `hint_for`, keep them as a hint) |
//! | `GET /replica/{key}`  | coordinators     | the versions this replica holds                      |
//! | `GET /hints`          | tests, operators | the hints this node holds                            |
//!
//! Bad input never reaches the store: a key that is not 1 to 200 characters of
//! `[A-Za-z0-9_.:-]`, a body that is not the JSON expected (400) or is over
//! [`MAX_BODY`] (413), a context counter past [`MAX_COUNTER`] (400), an
//! unknown consistency (400).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::coordinator::{Coordinator, Trace};
use crate::error::KvError;
use crate::handoff;
use crate::quorum::{Config, Consistency};
use crate::store::Store;
use crate::transport::{Held, StoreRequest};
use crate::version::VersionVector;

/// The largest body a client may send.
pub const MAX_BODY: usize = 64 * 1024;

/// The largest body one node sends another. Far more than [`MAX_BODY`]: a
/// store request carries every sibling of a key, each up to a client's body,
/// plus its version. A replica that refused what a client was allowed to write
/// would turn an accepted write into a refused one. (Production bounds the
/// siblings a key may have instead.)
pub const MAX_REPLICA_BODY: usize = 16 * 1024 * 1024;

/// The longest key, in bytes.
pub const MAX_KEY: usize = 200;

pub struct NodeConfig {
    pub id: usize,
    /// `peers[i]`: the base URL at which this node reaches node `i`.
    pub peers: Vec<String>,
    pub config: Config,
    pub pool: PgPool,
    /// Added to this node's wall clock when it stamps a write (step 3 skews one).
    pub clock_skew_ms: i64,
    /// How often the node tries to deliver the hints it holds.
    pub handoff_every: Duration,
}

struct NodeState {
    id: usize,
    store: Store,
    coordinator: Coordinator,
    config: Config,
    nodes: usize,
}

/// A node serving on its listener, with its hint-delivery loop. Dropping it
/// stops both at once (a crash, as far as the other nodes can tell).
pub struct RunningNode {
    server: JoinHandle<()>,
    handoff: JoinHandle<()>,
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        self.server.abort();
        self.handoff.abort();
    }
}

/// Start node `cfg.id` on `listener`.
pub async fn start(listener: TcpListener, cfg: NodeConfig) -> Result<RunningNode, KvError> {
    let store = Store::open(cfg.pool).await?;
    let coordinator = Coordinator::new(
        cfg.id,
        cfg.peers.clone(),
        cfg.config.clone(),
        cfg.clock_skew_ms,
    )?;
    let state = Arc::new(NodeState {
        id: cfg.id,
        store: store.clone(),
        coordinator,
        config: cfg.config.clone(),
        nodes: cfg.peers.len(),
    });
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(state)).await {
            tracing::error!(error = %e, "node server stopped");
        }
    });
    let (peers, timeout, every) = (cfg.peers, cfg.config.replica_timeout, cfg.handoff_every);
    let handoff = tokio::spawn(async move {
        let http = reqwest::Client::new();
        loop {
            if let Err(e) = handoff::deliver_hints(&store, &http, &peers, timeout).await {
                tracing::warn!(error = %e, "hint delivery pass failed");
            }
            tokio::time::sleep(every).await;
        }
    });
    Ok(RunningNode { server, handoff })
}

fn router(state: Arc<NodeState>) -> Router {
    Router::new()
        .route(
            "/kv/{key}",
            get(get_kv)
                .put(put_kv)
                .layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route(
            "/replica/{key}",
            get(get_replica)
                .post(post_replica)
                .layer(DefaultBodyLimit::max(MAX_REPLICA_BODY)),
        )
        .route("/hints", get(get_hints))
        .with_state(state)
}

/// The largest counter a client's context may carry: 2^53 - 1, the largest
/// integer every JSON client holds exactly. No node counts that far, so only a
/// forged context carries more; and a coordinator stamps one past the context,
/// which near `u64::MAX` would overflow. (A node hands out at most one past
/// this, which a next write is refused for: where a forged context ends.)
pub const MAX_COUNTER: u64 = (1 << 53) - 1;

/// A client's context, every counter at most [`MAX_COUNTER`]: refused while
/// the body is read, as a negative counter (which no `u64` holds) is.
fn bounded_context<'de, D: serde::Deserializer<'de>>(d: D) -> Result<VersionVector, D::Error> {
    let counters = BTreeMap::<String, u64>::deserialize(d)?;
    if let Some((slot, counter)) = counters.iter().find(|(_, c)| **c > MAX_COUNTER) {
        return Err(serde::de::Error::custom(format!(
            "context counter {slot} = {counter}: counters are at most {MAX_COUNTER}"
        )));
    }
    Ok(VersionVector::from_pairs(
        counters.iter().map(|(slot, c)| (slot.as_str(), *c)),
    ))
}

fn check_key(key: &str) -> Result<(), KvError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:-".contains(c);
    if key.is_empty() || key.len() > MAX_KEY || !key.chars().all(allowed) {
        return Err(KvError::BadRequest(format!(
            "a key is 1 to {MAX_KEY} characters of [A-Za-z0-9_.:-]"
        )));
    }
    Ok(())
}

/// A body the node could not read: 413 when over `limit`, 400 otherwise.
fn refuse_body(rejection: JsonRejection, limit: usize) -> Response {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("bodies are at most {limit} bytes"),
        )
            .into_response(),
        _ => KvError::BadRequest(rejection.body_text()).into_response(),
    }
}

fn consistency(params: &HashMap<String, String>) -> Result<Option<Consistency>, KvError> {
    params
        .get("consistency")
        .map(|c| Consistency::parse(c))
        .transpose()
}

#[derive(Serialize, Deserialize)]
pub struct PutBody {
    pub value: String,
    /// The context of the read this write follows; absent for a blind write.
    #[serde(default, deserialize_with = "bounded_context")]
    pub context: VersionVector,
}

#[derive(Serialize, Deserialize)]
pub struct PutAnswer {
    pub context: VersionVector,
    pub trace: Trace,
}

#[derive(Serialize, Deserialize)]
pub struct GetAnswer {
    pub values: Vec<String>,
    pub context: VersionVector,
    pub trace: Trace,
}

async fn put_kv(
    State(state): State<Arc<NodeState>>,
    Path(key): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    body: Result<Json<PutBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => return refuse_body(rejection, MAX_BODY),
    };
    let answer = async {
        check_key(&key)?;
        let level = consistency(&params)?;
        let reply = state
            .coordinator
            .put(&key, body.value, body.context, level)
            .await?;
        Ok::<_, KvError>(PutAnswer {
            context: reply.context,
            trace: reply.trace,
        })
    };
    match answer.await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn get_kv(
    State(state): State<Arc<NodeState>>,
    Path(key): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<GetAnswer>, KvError> {
    check_key(&key)?;
    let level = consistency(&params)?;
    let reply = state.coordinator.get(&key, level).await?;
    Ok(Json(GetAnswer {
        values: reply.values,
        context: reply.context,
        trace: reply.trace,
    }))
}

async fn get_replica(
    State(state): State<Arc<NodeState>>,
    Path(key): Path<String>,
) -> Result<Json<Held>, KvError> {
    check_key(&key)?;
    Ok(Json(Held {
        versions: state.store.load(&key).await?,
    }))
}

async fn post_replica(
    State(state): State<Arc<NodeState>>,
    Path(key): Path<String>,
    body: Result<Json<StoreRequest>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => return refuse_body(rejection, MAX_REPLICA_BODY),
    };
    let stored = async {
        check_key(&key)?;
        match request.hint_for {
            Some(target) if target == state.id || target >= state.nodes => Err(
                KvError::BadRequest(format!("node {} cannot hold a hint for {target}", state.id)),
            ),
            Some(target) => state.store.add_hint(target, &key, request.versions).await,
            None => state
                .store
                .merge(&key, request.versions, state.config.resolution)
                .await
                .map(|_| ()),
        }
    };
    match stored.await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Serialize, Deserialize)]
pub struct HintView {
    pub target: usize,
    pub key: String,
    pub values: Vec<String>,
}

async fn get_hints(State(state): State<Arc<NodeState>>) -> Result<Json<Vec<HintView>>, KvError> {
    let hints = state.store.hints().await?;
    Ok(Json(
        hints
            .into_iter()
            .map(|h| HintView {
                target: h.target,
                key: h.key,
                values: h.versions.into_iter().map(|v| v.value).collect(),
            })
            .collect(),
    ))
}
