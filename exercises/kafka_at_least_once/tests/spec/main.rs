//! The kafka_at_least_once spec, one module per README step.
//!
//! ```text
//! cargo test -p kafka_at_least_once step2     # one step
//! cargo lab check kafka_at_least_once         # all of them, with progress
//! ```
//!
//! Every test gets its own Postgres database, its own Kafka topics and its own
//! consumer group (`LAB_POSTGRES_URL` and `LAB_KAFKA_BROKERS`, or Docker), so
//! the tests run in parallel. Crashes are simulated at exact points: the
//! test's [`Probe`](kafka_at_least_once::Probe) never returns from the chosen
//! point, or a row lock the test holds stops the effect mid-transaction, and
//! the test then aborts the task running your consumer or relay. What a test
//! asserts comes from Postgres (`effect_log`, `xmin`) and from the broker
//! (committed offsets, the records on a topic), never from how fast anything
//! ran.

mod support;

mod step1_commit_after_effect;
mod step2_crash_restart;
mod step3_idempotent_effects;
mod step4_rebalance;
mod step5_poison_and_outages;
mod step6_outbox;
