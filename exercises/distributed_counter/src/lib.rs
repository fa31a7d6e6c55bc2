//! # A distributed counter that survives node failures
//!
//! Read `README.md` next to this crate (the question and the steps are there),
//! then make the tests pass step by step:
//!
//! ```text
//! cargo test -p distributed_counter step1     # or: cargo lab check distributed_counter
//! ```
//!
//! | step | where                  | what you build                                             |
//! |------|------------------------|------------------------------------------------------------|
//! | 1    | [`crdt`]               | the PN-counter: apply, merge, value, dominates, tokens     |
//! | 2    | [`store`], [`node`]    | a node over HTTP, durable in Postgres, requests applied once |
//! | 3    | [`gossip`], [`node`]   | anti-entropy with every peer; convergence after partitions |
//! | 4    | [`node`]               | session tokens: read-your-writes, monotonic reads          |
//! | 5    | [`linearizable`], [`node`] | one shared row: linearizable, 503 under partition      |
//!
//! [`config`], [`db`] (with `migrations/`) and [`error`] are provided. Every place
//! you need to change is marked `// TODO(step N)`.

// The skeleton leaves fields and parameters unused until you write the bodies.
// `expect` rather than `allow`: once your code uses them all, the compiler says
// this line is no longer needed, and you delete it.
#![expect(dead_code, unused_variables, unused_imports)]

pub mod config;
pub mod crdt;
pub mod db;
pub mod error;
pub mod gossip;
pub mod linearizable;
pub mod node;
pub mod store;

pub use config::{Mode, NodeConfig};
pub use crdt::PnCounter;
pub use error::AppError;
pub use node::{Node, router, serve};
