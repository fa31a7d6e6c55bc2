//! # An idempotent, signed payment API on a double-entry ledger — reference
//!
//! | step | module                         | guarantee                                              |
//! |------|--------------------------------|--------------------------------------------------------|
//! | 1    | [`api`], [`error`]             | resources, cursor pagination, problem+json errors      |
//! | 2    | [`ledger`]                     | balanced entries in one transaction; no overdraft      |
//! | 3    | [`idempotency`]                | one key, one payment; replays answered from storage    |
//! | 4    | [`api::process`], [`processor`]| a crash at any point finishes once and charges once    |
//! | 5    | [`signing`]                    | forged, altered or stale requests are refused          |

// Provided files, shared with the exercise so the two cannot drift apart.
#[path = "../../../exercises/idempotent_payments/src/app.rs"]
pub mod app;
#[path = "../../../exercises/idempotent_payments/src/clock.rs"]
pub mod clock;
#[path = "../../../exercises/idempotent_payments/src/config.rs"]
pub mod config;
#[path = "../../../exercises/idempotent_payments/src/db.rs"]
pub mod db;
#[path = "../../../exercises/idempotent_payments/src/model.rs"]
pub mod model;

pub mod api;
pub mod error;
pub mod idempotency;
pub mod ledger;
pub mod processor;
pub mod signing;

pub use api::router;
pub use app::{AppState, serve};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AppConfig, ProcessorConfig};
pub use error::AppError;
