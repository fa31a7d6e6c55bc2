//! # An idempotent, signed payment API on a double-entry ledger
//!
//! Read `README.md` next to this crate (the question and the steps are there),
//! then make the tests pass step by step:
//!
//! ```text
//! cargo test -p idempotent_payments step1     # or: cargo lab check idempotent_payments
//! ```
//!
//! | step | where                            | what you build                                      |
//! |------|----------------------------------|-----------------------------------------------------|
//! | 1    | [`api`], [`error`]               | create / fetch / list payments; problem+json errors |
//! | 2    | [`ledger`]                       | balanced entries in one transaction; no overdraft   |
//! | 3    | [`idempotency`], [`api`]         | one key, one payment; replays from storage          |
//! | 4    | [`api::process`], [`processor`]  | recovery points: a crash never charges twice        |
//! | 5    | [`signing`], [`api::router`]     | signed requests; stale or forged ones refused       |
//!
//! [`app`], [`clock`], [`config`], [`db`] (with `migrations/`) and [`model`] are
//! provided. Every place you need to change is marked `// TODO(step N)`.

// The skeleton leaves fields and parameters unused until you write the bodies.
// `expect` rather than `allow`: once your code uses them all, the compiler says
// this line is no longer needed, and you delete it.
#![expect(dead_code, unused_variables)]

pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod idempotency;
pub mod ledger;
pub mod model;
pub mod processor;
pub mod signing;

pub use api::router;
pub use app::{AppState, serve};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AppConfig, ProcessorConfig};
pub use error::AppError;
