//! # A replicated key-value store with tunable quorums — reference
//!
//! | step | module(s)                          | guarantee                                                      |
//! |------|------------------------------------|----------------------------------------------------------------|
//! | 1    | [`version`], [`quorum`], [`coordinator`] | a write answers after W stores, a read after R replies, repaired before it answers; R + W > N reads the latest acknowledged write |
//! | 2    | [`coordinator`], [`handoff`]       | CP refuses without a quorum (503, `Retry-After`) within its timeout; AP accepts on stand-ins whose hints are delivered after the partition |
//! | 3    | [`version`]                        | concurrent writes are kept as siblings under vectors; LWW drops one, and says so nowhere |
//! | 4    | [`quorum`], [`coordinator`]        | `one`, `quorum` and `all` wait for 1, a majority and N replies, and the trace says which |
//! | 5    | [`checker`]                        | a history is linearizable, or the shortest prefix of one key that is not is returned |

// Provided files, shared with the exercise so the two cannot drift apart.
#[path = "../../../exercises/quorum_kv/src/error.rs"]
pub mod error;
#[path = "../../../exercises/quorum_kv/src/history.rs"]
pub mod history;
#[path = "../../../exercises/quorum_kv/src/node.rs"]
pub mod node;
#[path = "../../../exercises/quorum_kv/src/store.rs"]
pub mod store;
#[path = "../../../exercises/quorum_kv/src/transport.rs"]
pub mod transport;

pub mod checker;
pub mod coordinator;
pub mod handoff;
pub mod quorum;
pub mod version;

pub use checker::{Counterexample, Operation, Verdict, check};
pub use coordinator::{Coordinator, GetReply, PutReply, Trace, TraceReply};
pub use error::KvError;
pub use history::{Call, Event, Recorder};
pub use node::{NodeConfig, RunningNode};
pub use quorum::{Config, Consistency, Mode, majority};
pub use version::{Causality, Dot, Resolution, Version, VersionVector, context_of, reconcile};
