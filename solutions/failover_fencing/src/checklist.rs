//! The checks that come after a failover, for the failures nobody notices.
//!
//! * **Sequences rewound.** Postgres WAL-logs a sequence 32 values ahead of
//!   use, so a standby's copy runs ahead of the ids it has seen. But the ids
//!   handed out in writes the standby never received can pass that margin:
//!   lose more than 32 with the primary and the new primary's `nextval` hands
//!   out ids clients were already given for payments that are gone — two
//!   payments, one id, in every system that kept a copy. The fix moves the
//!   sequence past the highest id anyone was told about, and past the highest
//!   id stored. It never moves one back.
//! * **Unlogged tables emptied.** An UNLOGGED table skips the WAL, so no
//!   standby has its rows, and a promoted standby starts with it empty. Fine
//!   for a cache, a silent loss for anything else: the checklist names each
//!   empty one. (A logged table that is empty is not news.)
//! * **The timeline.** A promotion starts a new timeline; a new primary still on
//!   the old one was not promoted at all (a config pointing at the wrong node).
//!
//! Production does more: the same for every sequence and every client-visible
//! id, checks of replication slots and subscribers, and re-pointing the old
//! primary as a standby with pg_rewind.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::app::Ack;
use crate::error::FailoverError;

/// What happened to `payments.id`'s sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceCheck {
    /// The sequence, schema-qualified.
    pub sequence: String,
    /// The id `nextval` would have handed out before the check.
    pub next_before: i64,
    /// The highest id given to a client in an acknowledged write.
    pub highest_acknowledged: i64,
    /// The highest id in the table.
    pub highest_stored: i64,
    /// The id `nextval` hands out after the check.
    pub next_after: i64,
    /// Whether the check moved the sequence.
    pub advanced: bool,
}

/// The post-failover report: what was checked, and what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecklistReport {
    pub sequence: SequenceCheck,
    /// UNLOGGED tables with no rows, schema-qualified, sorted.
    pub empty_unlogged: Vec<String>,
    /// The timeline the new primary writes on.
    pub timeline: u32,
    /// The timeline the old primary wrote on.
    pub previous_timeline: u32,
    /// `timeline > previous_timeline`.
    pub timeline_advanced: bool,
}

/// Run the checklist on the new primary at `url`, knowing the writes clients
/// were told succeeded and the timeline the old primary was on.
pub async fn post_failover_checklist(
    url: &str,
    acknowledged: &[Ack],
    previous_timeline: u32,
    timeout: Duration,
) -> Result<ChecklistReport, FailoverError> {
    let attempt = async {
        let mut conn = PgConnection::connect(url).await?;
        let sequence = advance_sequence(&mut conn, acknowledged).await?;
        let empty_unlogged = empty_unlogged_tables(&mut conn).await?;
        let timeline = timeline(&mut conn).await?;
        Ok::<_, FailoverError>(ChecklistReport {
            sequence,
            empty_unlogged,
            timeline,
            previous_timeline,
            timeline_advanced: timeline > previous_timeline,
        })
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| FailoverError::timeout("the post-failover checklist", url, timeout))?
}

async fn advance_sequence(
    conn: &mut PgConnection,
    acknowledged: &[Ack],
) -> Result<SequenceCheck, FailoverError> {
    let sequence: String = sqlx::query_scalar("SELECT pg_get_serial_sequence('payments', 'id')")
        .fetch_one(&mut *conn)
        .await?;
    // last_value with is_called = false has not been handed out yet. The name
    // comes from pg_get_serial_sequence, quoted by the server: safe to splice.
    let (last_value, is_called): (i64, bool) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT last_value, is_called FROM {sequence}"
    )))
    .fetch_one(&mut *conn)
    .await?;
    let next_before = if is_called {
        last_value + 1
    } else {
        last_value
    };
    let highest_acknowledged = acknowledged.iter().map(|a| a.id).max().unwrap_or(0);
    let highest_stored: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM payments")
        .fetch_one(&mut *conn)
        .await?;
    let highest = highest_acknowledged.max(highest_stored);
    let advanced = next_before <= highest;
    if advanced {
        // is_called = true: the next nextval returns highest + 1.
        sqlx::query("SELECT setval($1::regclass, $2, true)")
            .bind(&sequence)
            .bind(highest)
            .execute(&mut *conn)
            .await?;
    }
    Ok(SequenceCheck {
        sequence,
        next_before,
        highest_acknowledged,
        highest_stored,
        next_after: if advanced { highest + 1 } else { next_before },
        advanced,
    })
}

async fn empty_unlogged_tables(conn: &mut PgConnection) -> Result<Vec<String>, FailoverError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'p') \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut empty = Vec::new();
    for table in tables {
        // The name comes quoted from format('%I'), so it is safe to splice.
        let has_rows: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {table})"
        )))
        .fetch_one(&mut *conn)
        .await?;
        if !has_rows {
            empty.push(table);
        }
    }
    Ok(empty)
}

/// The timeline of the WAL segment the server writes now: the first eight hex
/// digits of its file name.
async fn timeline(conn: &mut PgConnection) -> Result<u32, FailoverError> {
    let file: String = sqlx::query_scalar("SELECT pg_walfile_name(pg_current_wal_lsn())")
        .fetch_one(conn)
        .await?;
    u32::from_str_radix(file.get(..8).unwrap_or_default(), 16)
        .map_err(|_| FailoverError::Config(format!("unexpected WAL file name {file:?}")))
}
