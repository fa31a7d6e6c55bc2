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
    // TODO(step 5): post_failover_checklist
    todo!("step 5: post_failover_checklist")
}
