//! Step 5: what the server is, because the answers depend on it.

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
    // TODO(step 5): the version on both engines; on MariaDB also
    // @@innodb_snapshot_isolation, where an unknown variable (error 1193)
    // means None, not a failure.
    todo!("step 5: read the server's version and snapshot-isolation switch (README step 5)")
}
