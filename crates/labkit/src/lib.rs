//! # labkit — what every backend-lab test stands on
//!
//! Exercises test real Postgres, Redis and Kafka, never mocks of them. This crate
//! finds those services, gives each test its own slice of them, breaks the network
//! on purpose, and makes sure nothing waits forever.
//!
//! * **Finding a service** ([`service`]): an explicit URL from the environment wins
//!   (`LAB_POSTGRES_URL` or `DATABASE_URL`, `LAB_REDIS_URL`, `LAB_KAFKA_BROKERS`);
//!   otherwise, if Docker answers a ping within two seconds, one container per
//!   service is started for the whole test process; otherwise the test fails within
//!   seconds with a message naming both ways to get one.
//! * **Isolation**: [`TestDb`] is a fresh database per test, [`TestRedis`] a key
//!   prefix per test, [`TestKafka`] topics and consumer groups per test. Tests run in
//!   parallel under the default harness and never depend on order. Resources are
//!   removed when a test passes and kept (and named) when it fails.
//! * **Faults** ([`FaultProxy`]): a TCP proxy between the code under test and a
//!   service, which a test can cut, stall, slow down and restore.
//! * **Never hang** ([`within`], [`eventually`]): every external wait is bounded,
//!   and the error says what was awaited and where.
//! * **Tracing** ([`init_tracing`], [`capture_logs`]): one subscriber for the whole
//!   process, silent unless `TEST_LOG=1`; or a per-test capture to assert on logs.

pub mod docker;
pub mod http;
pub mod kafka;
pub mod postgres;
pub mod proxy;
pub mod redis;
pub mod service;
pub mod time;
pub mod trace;
pub mod unique;

mod cleanup;
mod containers;

pub use kafka::TestKafka;
pub use postgres::TestDb;
pub use proxy::FaultProxy;
pub use redis::TestRedis;
pub use service::{Endpoint, Origin, Service};
pub use time::{eventually, within};
pub use trace::{CapturedLogs, capture_logs, init_tracing};
