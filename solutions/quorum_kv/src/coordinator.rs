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
        self.replies
            .iter()
            .filter(|r| r.counted)
            .map(|r| r.node)
            .collect()
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
        let slot = self.slot();
        let seen = context.get(&slot);
        let counter = self
            .last
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(last.max(seen) + 1)
            })
            .map(|last| last.max(seen) + 1)
            .expect("the update closure always returns Some");
        let ts = now_millis() as i64 + self.clock_skew_ms;
        Version {
            value,
            dot: Dot { slot, counter },
            context,
            ts_ms: ts.max(0) as u64,
        }
    }

    fn needed(&self, consistency: Option<Consistency>, default: usize) -> usize {
        consistency.map_or(default, |c| c.required(self.config.n))
    }

    /// Send `version` to every home replica and, in AP mode, each home's
    /// share that failed to the next stand-in, reporting every reply on `tx`.
    /// It runs on after the coordinator has answered: a write goes on to
    /// every replica (or its stand-in) whatever W is.
    async fn fan_out(
        self,
        key: String,
        version: Version,
        tx: mpsc::UnboundedSender<TraceReply>,
        start: Instant,
    ) {
        let mut sends = tokio::task::JoinSet::new();
        let send = |sends: &mut tokio::task::JoinSet<_>, node: usize, hint_for: Option<usize>| {
            let (this, key, versions) = (self.clone(), key.clone(), vec![version.clone()]);
            sends.spawn(async move {
                let ok = this.store_on(node, &key, versions, hint_for).await.is_ok();
                (node, hint_for, ok)
            });
        };
        for home in 0..self.config.n {
            send(&mut sends, home, None);
        }
        let mut next_stand_in = self.config.n;
        while let Some(done) = sends.join_next().await {
            let Ok((node, hint_for, ok)) = done else {
                continue;
            };
            let _ = tx.send(TraceReply {
                node,
                hint_for,
                ok,
                after_ms: start.elapsed().as_millis() as u64,
                counted: ok,
            });
            // A sloppy quorum: what a home replica could not take goes to the
            // next stand-in, with a hint naming the home it belongs to.
            if !ok && self.config.mode == Mode::Ap && next_stand_in < self.peers.len() {
                send(&mut sends, next_stand_in, Some(hint_for.unwrap_or(node)));
                next_stand_in += 1;
            }
        }
    }

    /// Write `value` to `key`, superseding what `context` has seen.
    pub async fn put(
        &self,
        key: &str,
        value: String,
        context: VersionVector,
        consistency: Option<Consistency>,
    ) -> Result<PutReply, KvError> {
        let start = Instant::now();
        let deadline = start + self.config.timeout;
        let needed = self.needed(consistency, self.config.w);
        let version = self.stamp(value, context);
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(
            self.clone()
                .fan_out(key.to_string(), version.clone(), tx, start),
        );
        let mut trace = Trace {
            needed,
            replies: Vec::new(),
        };
        let mut acks = 0;
        while acks < needed {
            // None: every replica and stand-in has answered, and too few did.
            let Ok(Some(reply)) = tokio::time::timeout_at(deadline, rx.recv()).await else {
                break;
            };
            acks += usize::from(reply.ok);
            trace.replies.push(reply);
        }
        if acks >= needed {
            Ok(PutReply {
                context: version.clock(),
                trace,
            })
        } else {
            Err(self.unavailable(needed, acks))
        }
    }

    /// Read `key`: its value, or its concurrent siblings, and their context.
    pub async fn get(
        &self,
        key: &str,
        consistency: Option<Consistency>,
    ) -> Result<GetReply, KvError> {
        let start = Instant::now();
        let deadline = start + self.config.timeout;
        let needed = self.needed(consistency, self.config.r);
        let (tx, mut rx) = mpsc::unbounded_channel();
        for node in 0..self.config.n {
            let (tx, this, key) = (tx.clone(), self.clone(), key.to_string());
            tokio::spawn(async move {
                let result = transport::fetch(
                    &this.http,
                    node,
                    &this.peers[node],
                    &key,
                    this.config.replica_timeout,
                )
                .await;
                let _ = tx.send(Arrival { node, result });
            });
        }
        drop(tx);
        let mut trace = Trace {
            needed,
            replies: Vec::new(),
        };
        let mut held: Vec<(usize, Vec<Version>)> = Vec::new();
        while held.len() < needed {
            let Ok(Some(arrival)) = tokio::time::timeout_at(deadline, rx.recv()).await else {
                break;
            };
            let ok = arrival.result.is_ok();
            trace.replies.push(TraceReply {
                node: arrival.node,
                hint_for: None,
                ok,
                after_ms: start.elapsed().as_millis() as u64,
                counted: ok,
            });
            if let Ok(versions) = arrival.result {
                held.push((arrival.node, versions));
            }
        }
        // CP answers only from a full read quorum; AP answers from any reply.
        let enough = match self.config.mode {
            Mode::Cp => held.len() >= needed,
            Mode::Ap => !held.is_empty(),
        };
        if !enough {
            return Err(self.unavailable(needed, held.len()));
        }
        let all = held.iter().flat_map(|(_, v)| v.iter().cloned()).collect();
        let newest = reconcile(all, self.config.resolution);
        self.repair(key, &held, &newest, deadline).await;
        Ok(GetReply {
            values: newest.iter().map(|v| v.value.clone()).collect(),
            context: context_of(&newest),
            trace,
        })
    }

    /// Read repair: every replier whose versions differ from `newest` is sent
    /// `newest`, and the read waits (within its deadline) for them to store it.
    async fn repair(
        &self,
        key: &str,
        held: &[(usize, Vec<Version>)],
        newest: &[Version],
        deadline: Instant,
    ) {
        let mut repairs = tokio::task::JoinSet::new();
        for (node, versions) in held {
            if reconcile(versions.clone(), self.config.resolution) == newest {
                continue;
            }
            let (this, node, key, versions) =
                (self.clone(), *node, key.to_string(), newest.to_vec());
            repairs.spawn(async move {
                if let Err(e) = this.store_on(node, &key, versions, None).await {
                    tracing::debug!(error = %e, "read repair did not land");
                }
            });
        }
        let all_done = async { while repairs.join_next().await.is_some() {} };
        let _ = tokio::time::timeout_at(deadline, all_done).await;
    }

    /// Store `versions` of `key` on node `node` (with `hint_for`, keep them
    /// there as a hint for that home), within one replica timeout.
    async fn store_on(
        &self,
        node: usize,
        key: &str,
        versions: Vec<Version>,
        hint_for: Option<usize>,
    ) -> Result<(), KvError> {
        let request = StoreRequest { versions, hint_for };
        let (peer, limit) = (&self.peers[node], self.config.replica_timeout);
        transport::store(&self.http, node, peer, key, &request, limit).await
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
