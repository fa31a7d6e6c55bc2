// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! The one error type of the migration.

use std::time::Duration;

use crate::config::Phase;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// A DDL step never got its lock within `lock_timeout`, `attempts` times in
    /// a row. Something holds the table: look for long transactions in
    /// `pg_stat_activity`, then run the step again.
    #[error(
        "{what}: lock not granted within lock_timeout in {attempts} attempts; a long-running transaction holds customers (see pg_stat_activity)"
    )]
    LockTimeout { what: String, attempts: u32 },
    /// A step was called before the steps it depends on.
    #[error("{step} needs phase {needs:?} or later, but the migration is at {current:?}")]
    WrongPhase {
        step: &'static str,
        needs: Phase,
        current: Phase,
    },
    /// The switch was refused: the columns do not agree yet.
    #[error("not validated: {0}")]
    NotValidated(String),
    /// A statement or transaction did not finish within `statement_timeout`.
    #[error("{what} did not finish within {limit:?}")]
    Timeout { what: String, limit: Duration },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl MigrationError {
    /// Postgres's `lock_not_available` (55P03): what `lock_timeout` raises.
    pub fn is_lock_timeout(&self) -> bool {
        self.has_sqlstate("55P03")
    }

    /// Postgres's `check_violation` (23514): what `VALIDATE CONSTRAINT` raises
    /// when some row breaks the constraint.
    pub fn is_check_violation(&self) -> bool {
        self.has_sqlstate("23514")
    }

    fn has_sqlstate(&self, sqlstate: &str) -> bool {
        match self {
            MigrationError::Database(sqlx::Error::Database(e)) => {
                e.code().as_deref() == Some(sqlstate)
            }
            _ => false,
        }
    }
}
