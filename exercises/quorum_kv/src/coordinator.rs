// YOURS: the candidate's file. Steps are marked `// TODO(step N)`.
//! The coordinator: one request's fan-out to the replicas, and when to answer.
//!
//! A write is stamped once (a new dot in this coordinator's slot, and the
//! client's context as given), sent to all N home replicas at once, and
//! acknowledged as soon as W of them have stored it; the others still get it
//! in the background. A read asks all N, answers once R have replied, and
//! first writes the reconciled result back to every replier that was behind
//! (read repair). Writing back *before* answering is what makes a strict
//! quorum's reads linearizable for a single writer (the ABD register): once a
//! read has returned a value, a quorum holds it, so no later read can miss it.
//!
//! Under a partition the two modes part ways. CP refuses when fewer than the
//! needed replies arrive within the timeout. AP sends each write a home
//! replica could not take to the next stand-in node with a hint naming that
//! home (a sloppy quorum), and answers a read from whatever replied.
//!
//! Every request answers within `config.timeout`, and returns a [`Trace`] of
//! the replies it saw and which it counted: step 4 reads latency off it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::error::KvError;
use crate::quorum::{Config, Consistency, Mode};
use crate::transport::{self, StoreRequest};
use crate::version::{Dot, Version, VersionVector, context_of, reconcile};

/// One reply as the coordinator saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceReply {
    pub node: usize,
    /// A stand-in's reply: the home replica it held the write for.
    pub hint_for: Option<usize>,
    pub ok: bool,
    /// Milliseconds from the start of the request to this reply.
    pub after_ms: u64,
    /// Whether this reply counted toward the answer (R or W).
    pub counted: bool,
}

/// The replies a request saw before it answered, in arrival order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Replies the request needed (R or W at its consistency).
    pub needed: usize,
    pub replies: Vec<TraceReply>,
}

impl Trace {
    /// The nodes whose replies the request waited for, in arrival order.
    pub fn waited_for(&self) -> Vec<usize> {
        // TODO(step 1): the nodes of the counted replies, in arrival order.
        todo!("step 1")
    }
}

#[derive(Clone, Debug)]
pub struct GetReply {
    /// One value, several concurrent siblings, or none (the key has no value).
    pub values: Vec<String>,
    /// Hand this back with the next write of the key: it supersedes every
    /// value returned here.
    pub context: VersionVector,
    pub trace: Trace,
}

#[derive(Clone, Debug)]
pub struct PutReply {
    /// The written version's clock: the context for a next write that should
    /// supersede this one.
    pub context: VersionVector,
    pub trace: Trace,
}

#[derive(Clone)]
pub struct Coordinator {
    id: usize,
    peers: Arc<Vec<String>>,
    config: Config,
    clock_skew_ms: i64,
    http: reqwest::Client,
    /// The last counter this coordinator stamped in its own slot.
    last: Arc<AtomicU64>,
}

/// A read's reply arriving on the coordinator's channel.
struct Arrival {
    node: usize,
    result: Result<Vec<Version>, KvError>,
}

impl Coordinator {
    /// A coordinator that is node `id`, reaching node `i` at `peers[i]`.
    /// Refuses a configuration that cannot work on `peers.len()` nodes.
    pub fn new(
        id: usize,
        peers: Vec<String>,
        config: Config,
        clock_skew_ms: i64,
    ) -> Result<Coordinator, KvError> {
        config.validate(peers.len())?;
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| KvError::BadConfig(format!("HTTP client: {e}")))?;
        Ok(Coordinator {
            id,
            peers: Arc::new(peers),
            config,
            clock_skew_ms,
            http,
            // Counters start at the wall clock in microseconds, so a restarted
            // coordinator stamps past what it stamped before (production would
            // keep the counter durably).
            last: Arc::new(AtomicU64::new(now_micros())),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This coordinator's slot in version vectors (and so its LWW tie-breaker).
    pub fn slot(&self) -> String {
        format!("n{}", self.id)
    }

    /// The version a write of `value` with `context` stores: a new dot in
    /// this coordinator's slot, past every counter it stamped before and
    /// past the context's, and the context as the client's view.
    fn stamp(&self, value: String, context: VersionVector) -> Version {
        // TODO(step 1): a new dot in self.slot(), its counter past both the context's counter for that slot and self.last (update self.last); the context as given.
        // TODO(step 3): ts_ms = the wall clock plus clock_skew_ms (a skewed node stamps from its own clock).
        todo!("step 1")
    }

    /// Write `value` to `key`, superseding what `context` has seen.
    pub async fn put(
        &self,
        key: &str,
        value: String,
        context: VersionVector,
        consistency: Option<Consistency>,
    ) -> Result<PutReply, KvError> {
        // TODO(step 1): stamp once, send to all N homes at once (spawned, so they go on after you answer), answer after W acks within config.timeout, else KvError::Unavailable (see self.unavailable).
        // TODO(step 2): in AP mode send each failed home's share to the next stand-in (nodes n..) with hint_for = that home, even after you have answered.
        // TODO(step 4): `consistency` overrides W.
        todo!("step 1")
    }

    /// Read `key`: its value, or its concurrent siblings, and their context.
    pub async fn get(
        &self,
        key: &str,
        consistency: Option<Consistency>,
    ) -> Result<GetReply, KvError> {
        // TODO(step 1): ask all N at once, answer after R replies within config.timeout; newest = reconcile of every reply's versions.
        // TODO(step 2): repair every replier that was behind before answering; CP: fewer than R is Unavailable; AP: answer from any reply, Unavailable with none.
        // TODO(step 4): `consistency` overrides R.
        todo!("step 1")
    }

    fn unavailable(&self, needed: usize, got: usize) -> KvError {
        KvError::Unavailable {
            needed,
            got,
            timeout: self.config.timeout,
            retry_after: self.config.retry_after,
        }
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
