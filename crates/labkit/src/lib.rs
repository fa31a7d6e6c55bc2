//! # labkit — what every backend-lab test stands on
//!
//! Exercises test real Postgres, Redis and Kafka, never mocks of them. This crate
//! finds those services, gives each test its own slice of them, breaks the network
//! on purpose, and makes sure nothing waits forever.
//!
//! * **Finding a service** ([`service`]): an explicit URL from the environment wins
//!   (`LAB_POSTGRES_URL` or `DATABASE_URL`, `LAB_REDIS_URL`, `LAB_KAFKA_BROKERS`,
//!   `LAB_MYSQL_URL`);
//!   then what `cargo lab services up` started; then a server answering on the
//!   default local port; otherwise, if Docker answers a ping within two seconds,
//!   one container per service is started for the whole test process; otherwise
//!   the test fails within seconds with a message naming every way to get one.
//! * **Isolation**: [`TestDb`] is a fresh database per test (and `TestMyDb` on
//!   MariaDB), [`TestRedis`] a key
//!   prefix per test, [`TestKafka`] topics and consumer groups per test. Tests run in
//!   parallel under the default harness and never depend on order. Resources are
//!   removed when a test passes and kept (and named) when it fails.
//! * **Faults** ([`FaultProxy`]): a TCP proxy between the code under test and a
//!   service, which a test can cut, stall, slow down and restore.
//! * **Never hang** ([`within`], [`eventually`]): every external wait is bounded,
//!   and the error says what was awaited and where.
//! * **Features**: `postgres`, `redis`, `kafka`, `mysql` and `http` switch on what an
//!   exercise uses, so each compiles only its own clients; `containers` (on by
//!   default) is the Docker path. Without it, a machine with Docker and no URL gets
//!   an error that says which feature to turn on.
//! * **Tracing** ([`init_tracing`], [`capture_logs`]): one subscriber for the whole
//!   process, silent unless `TEST_LOG=1`; or a per-test capture to assert on logs.

pub mod docker;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod proxy;
#[cfg(feature = "redis")]
pub mod redis;
pub mod service;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod sqldb;
pub mod time;
pub mod trace;
pub mod unique;

pub mod cleanup;
#[cfg(feature = "containers")]
// Built for no service at all (`cargo test -p labkit` alone), nothing starts one.
#[cfg_attr(
    not(any(
        feature = "postgres",
        feature = "redis",
        feature = "kafka",
        feature = "mysql"
    )),
    allow(dead_code)
)]
mod containers;

#[cfg(feature = "kafka")]
pub use kafka::TestKafka;
#[cfg(feature = "mysql")]
pub use mysql::TestMyDb;
#[cfg(feature = "postgres")]
pub use postgres::TestDb;
pub use proxy::FaultProxy;
#[cfg(feature = "redis")]
pub use redis::TestRedis;
pub use service::{Endpoint, Located, Origin, Service};
pub use time::{eventually, within};
pub use trace::{CapturedLogs, capture_logs, init_tracing};
