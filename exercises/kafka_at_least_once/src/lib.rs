//! # At-least-once delivery on Kafka, effects exactly once
//!
//! Read `README.md` next to this crate (the question and the steps are there),
//! then make the tests pass step by step:
//!
//! ```text
//! cargo test -p kafka_at_least_once step1     # or: cargo lab check kafka_at_least_once
//! ```
//!
//! | step | in                                   | what you build                                              |
//! |------|--------------------------------------|-------------------------------------------------------------|
//! | 1    | [`consumer`]: `new`, `run`, `handle` | consume; apply in order; store the offset after the effect   |
//! | 2    | [`consumer`]: the probe points       | survive crashes anywhere; redeliveries are visible           |
//! | 3    | [`consumer`]: `apply`                | a dedup record in the effect's transaction                   |
//! | 4    | [`consumer::CommitOnRevoke`]         | commit on revocation: rebalances lose and repeat nothing     |
//! | 5    | [`consumer`]: `dead_letter`, retries | poison to a dead-letter topic; outages retried in place      |
//! | 6    | [`outbox`]                           | order + outbox row in one transaction; the relay              |
//!
//! [`config`], [`effects`], [`error`], [`event`], [`probe`] and [`schema`] are
//! provided. Every place you need to change is marked `// TODO(step N)`.

// The skeleton leaves fields and parameters unused until you write the bodies.
// `expect` rather than `allow`: once your code uses them all, the compiler says
// this line is no longer needed, and you delete it.
#![expect(dead_code, unused_variables, unused_imports)]

pub mod config;
pub mod effects;
pub mod error;
pub mod event;
pub mod probe;
pub mod schema;

pub mod consumer;
pub mod outbox;

pub use config::{ConsumerConfig, NewOrder, RelayConfig};
pub use consumer::OrderConsumer;
pub use error::LabError;
pub use event::{EventKind, OrderEvent, PoisonReason};
pub use outbox::{Relay, place_order};
pub use probe::{Point, Probe};
