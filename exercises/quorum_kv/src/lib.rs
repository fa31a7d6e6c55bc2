//! # A replicated key-value store with tunable quorums, and a linearizability checker
//!
//! Read `README.md` next to this crate (the question and the steps are there),
//! then make the tests pass step by step:
//!
//! ```text
//! cargo test -p quorum_kv step1     # or: cargo lab check quorum_kv
//! ```
//!
//! | step | yours                                    | what you build                                              |
//! |------|------------------------------------------|-------------------------------------------------------------|
//! | 1    | [`version`], [`quorum`], [`coordinator`] | version vectors; N, R, W; a write answered after W stores, a read after R replies |
//! | 2    | [`coordinator`], [`handoff`]             | CP refuses without a quorum; AP writes on stand-ins with hints, delivered later; read repair |
//! | 3    | [`version`], [`coordinator`] (the stamp) | last-writer-wins beside version vectors: what each keeps of concurrent writes |
//! | 4    | [`quorum`], [`coordinator`]              | `one`, `quorum`, `all` per request, and the trace of which replies a request waited for |
//! | 5    | [`checker`]                              | a linearizability checker for a key-value register         |
//!
//! Provided (read them, do not change them): [`node`] (the HTTP routes and
//! the hint-delivery loop), [`store`] (a replica's Postgres state, and
//! `sql/`), [`transport`] (one bounded call to another node), [`history`]
//! (the checker's input) and [`error`]. Every place you need to change is
//! marked `// TODO(step N)`.

// The skeleton leaves parameters and imports unused until you write the bodies.
// `expect` rather than `allow`: once your code uses them all, the compiler says
// this line is no longer needed, and you delete it.
#![expect(unused_variables, unused_imports, dead_code)]

pub mod error;
pub mod history;
pub mod node;
pub mod store;
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
