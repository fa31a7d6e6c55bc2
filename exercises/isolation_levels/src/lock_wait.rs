//! Step 1 (Postgres) and step 5 (MariaDB): is a session waiting for a lock?
//!
//! The scheduler calls this after every step to tell "blocked by another
//! session's lock" from "still running". Ask the database; never guess from
//! how long the statement has taken.

use crate::scheduler::Conn;

/// Is session `session` (its `pg_backend_pid()` or `CONNECTION_ID()`) waiting
/// for a lock held by another session, as the engine sees it now?
pub async fn waiting_for_lock(observer: &mut Conn, session: u64) -> Result<bool, sqlx::Error> {
    match observer {
        Conn::Postgres(c) => {
            // TODO(step 1): one query on `c`: is `session` blocked by anyone?
            // The answer must change the moment the holder commits.
            todo!("step 1: ask Postgres whether the session waits for a lock (README step 1)")
        }
        Conn::MariaDb(c) => {
            // TODO(step 5): the same question of InnoDB, through
            // information_schema.
            todo!("step 5: ask MariaDB whether the session waits for a lock (README step 5)")
        }
    }
}
