//! Step 5: what the server is, because the answers depend on it.
//!
//! The same SQL at the same level behaves differently on Postgres and on
//! InnoDB, and on InnoDB it depends on a switch: `innodb_snapshot_isolation`
//! (MariaDB 10.6.18, 10.11.8, 11.4 and later; off by default before 11.8).
//! With it on, REPEATABLE READ refuses to update or lock a row that changed
//! after the transaction's snapshot (error 1020) — Postgres's behaviour. With
//! it off, or on a server without it, the update goes through on the row as it
//! is now. So code that relies on REPEATABLE READ must know which it has.

use crate::db::{Db, Engine};

/// The facts about a server that change what an isolation level does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFacts {
    pub engine: Engine,
    /// `SELECT version()` / `SELECT @@version`.
    pub version: String,
    /// `@@innodb_snapshot_isolation` on MariaDB; `None` on Postgres, and on a
    /// server too old to have the variable.
    pub snapshot_isolation: Option<bool>,
}

/// Ask the server.
pub async fn server_facts(db: &Db) -> Result<ServerFacts, sqlx::Error> {
    match db {
        Db::Postgres(pool) => Ok(ServerFacts {
            engine: Engine::Postgres,
            version: sqlx::query_scalar("SELECT version()")
                .fetch_one(pool)
                .await?,
            snapshot_isolation: None,
        }),
        Db::MariaDb(pool) => {
            let version: String = sqlx::query_scalar("SELECT @@version")
                .fetch_one(pool)
                .await?;
            // An unknown variable is error 1193: an older server, not a failure.
            let snapshot_isolation =
                match sqlx::query_scalar::<_, i64>("SELECT @@innodb_snapshot_isolation + 0")
                    .fetch_one(pool)
                    .await
                {
                    Ok(on) => Some(on != 0),
                    Err(sqlx::Error::Database(e))
                        if e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                            .is_some_and(|e| e.number() == 1193) =>
                    {
                        None
                    }
                    Err(e) => return Err(e),
                };
            Ok(ServerFacts {
                engine: Engine::MariaDb,
                version,
                snapshot_isolation,
            })
        }
    }
}
