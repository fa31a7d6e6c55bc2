// PROVIDED: the two engines, the four levels, and the handles every step uses.
// You do not need to change this file.

//! Postgres and MariaDB side by side.
//!
//! Every step runs the same idea on both engines, so the code hands around a
//! [`Db`] (a pool on one engine or the other) and matches on it where the SQL
//! differs: `$1` against `?` placeholders, `FOR SHARE` against `LOCK IN SHARE
//! MODE`, SQLSTATE against MariaDB's error numbers.

use std::fmt;

use sqlx::mysql::{MySqlDatabaseError, MySqlPool};
use sqlx::postgres::PgPool;

/// Which database engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    Postgres,
    MariaDb,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Engine::Postgres => "Postgres",
            Engine::MariaDb => "MariaDB",
        })
    }
}

/// The isolation levels of the SQL standard, weakest first.
///
/// READ UNCOMMITTED is here to be looked at, not chosen: on MariaDB it really
/// lets a transaction read another's uncommitted writes (so the dirty-read
/// anomalies show up), while Postgres runs it as READ COMMITTED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    ReadUncommitted,
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::ReadUncommitted,
        Level::ReadCommitted,
        Level::RepeatableRead,
        Level::Serializable,
    ];

    /// As SQL spells it: `SET TRANSACTION ISOLATION LEVEL {sql}`.
    pub fn sql(self) -> &'static str {
        match self {
            Level::ReadUncommitted => "READ UNCOMMITTED",
            Level::ReadCommitted => "READ COMMITTED",
            Level::RepeatableRead => "REPEATABLE READ",
            Level::Serializable => "SERIALIZABLE",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.sql())
    }
}

/// A pool on one engine. Cloning is cheap (pools are reference-counted).
#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
    MariaDb(MySqlPool),
}

impl Db {
    pub fn engine(&self) -> Engine {
        match self {
            Db::Postgres(_) => Engine::Postgres,
            Db::MariaDb(_) => Engine::MariaDb,
        }
    }

    /// Run one statement with no parameters and no result, e.g. DDL.
    pub async fn execute(&self, sql: &'static str) -> Result<(), sqlx::Error> {
        match self {
            Db::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            Db::MariaDb(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        }
    }
}

/// What a database error was, in the terms both engines share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbFailure {
    /// The five-character SQLSTATE ("40001", "23505", "HY000", …).
    pub sqlstate: Option<String>,
    /// MariaDB's own error number (1213 for a deadlock, 1020 for "record has
    /// changed since last read"); `None` on Postgres.
    pub number: Option<u16>,
    pub message: String,
}

impl DbFailure {
    /// The parts of a sqlx error a caller decides on. An error that is not the
    /// database's (a closed pool, a decode error) has neither code.
    pub fn of(error: &sqlx::Error) -> DbFailure {
        match error.as_database_error() {
            Some(db) => DbFailure {
                sqlstate: db.code().map(|c| c.into_owned()),
                number: db
                    .try_downcast_ref::<MySqlDatabaseError>()
                    .map(|e| e.number()),
                message: db.message().to_string(),
            },
            None => DbFailure {
                sqlstate: None,
                number: None,
                message: error.to_string(),
            },
        }
    }

    /// Did the engine abort the transaction to keep its isolation promise: a
    /// serialization failure (40001), a deadlock (40P01 on Postgres; 40001 with
    /// number 1213 on MariaDB), or InnoDB's snapshot-isolation check (1020)?
    /// A lock wait timeout is not one: it is the scheduler's bound, not a
    /// decision the engine made about the schedule.
    pub fn is_concurrency_abort(&self) -> bool {
        matches!(self.sqlstate.as_deref(), Some("40001" | "40P01")) || self.number == Some(1020)
    }
}

impl fmt::Display for DbFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.sqlstate, self.number) {
            (Some(state), Some(n)) => write!(f, "{} (SQLSTATE {state}, error {n})", self.message),
            (Some(state), None) => write!(f, "{} (SQLSTATE {state})", self.message),
            _ => f.write_str(&self.message),
        }
    }
}
