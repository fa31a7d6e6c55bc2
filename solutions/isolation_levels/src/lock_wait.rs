//! Step 1: is a session waiting for a lock? Asked of the database, never
//! guessed from the clock.
//!
//! A statement that has not returned yet may be waiting for a lock, or may
//! simply be slow (a big scan, `pg_sleep`). Only the engine knows which, so
//! the scheduler asks it after every step. The question is narrow on purpose:
//! "is this session blocked *by another session's lock* right now?"
//!
//! * **Postgres**: `pg_blocking_pids(pid)` lists the sessions holding a lock
//!   the backend is queued for. It empties the moment the holder commits, even
//!   before the waiter has woken up; `pg_stat_activity.wait_event_type =
//!   'Lock'` lingers until the waiter runs again, so a scheduler that used it
//!   could call a released session blocked and move on too early.
//! * **MariaDB**: `information_schema.innodb_trx` has a row per InnoDB
//!   transaction, with its session (`trx_mysql_thread_id`) and `trx_state =
//!   'LOCK WAIT'` while it waits; InnoDB clears the wait when it grants the
//!   lock, inside the holder's commit. Joining `innodb_lock_waits` on
//!   `trx_id` looks more precise and is not: a transaction that has written
//!   nothing has no id of its own, and the one InnoDB prints for it (built
//!   from its memory address) can equal another's, so a reader could be
//!   reported waiting for someone else's lock. Both views are a cache that
//!   InnoDB refreshes only when unread for 0.1 s; the scheduler spaces its
//!   looks for that (`scheduler::look_interval`).

use crate::scheduler::Conn;

/// Is session `session` (its `pg_backend_pid()` or `CONNECTION_ID()`) waiting
/// for a lock held by another session, as the engine sees it now?
pub async fn waiting_for_lock(observer: &mut Conn, session: u64) -> Result<bool, sqlx::Error> {
    match observer {
        Conn::Postgres(c) => {
            sqlx::query_scalar("SELECT cardinality(pg_blocking_pids($1)) > 0")
                .bind(session as i32)
                .fetch_one(&mut *c)
                .await
        }
        Conn::MariaDb(c) => {
            let waits: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM information_schema.innodb_trx \
                  WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'",
            )
            .bind(session)
            .fetch_one(&mut *c)
            .await?;
            Ok(waits > 0)
        }
    }
}
