//! The migration, one method per step: expand → dual write → backfill →
//! validate → switch → contract. See the README for what each must guarantee.
//!
//! Provided: the struct, [`Migration::phase`], and (from `bookkeeping.rs`)
//! `self.require(step, phase)`, `self.advance(phase)`, `advance_in(&mut tx,
//! phase)`, `self.step_back(from, to)` and `self.bounded(what, future)`, which
//! puts `statement_timeout` around any future.

use std::time::Duration;

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use tracing::{info, warn};

use crate::bookkeeping::{Bookkeeping, advance_in};
use crate::config::{
    BackfillReport, Checkpoint, Config, DdlReport, Phase, Progress, Quarantined, Validation,
};
use crate::error::MigrationError;
use crate::schema::MIGRATION;

pub type Result<T> = std::result::Result<T, MigrationError>;

// TODO(step 6): no new method. Step 6 runs steps 1–5 in order with writers,
// readers and a long transaction in the way; when it fails, its message names
// the broken guarantee (a lock wait over the bound, a lost update, an error the
// application saw) and so the step to revisit.

/// The name of the step 4 constraint.
pub const CONSTRAINT: &str = "customers_profile_jsonb_is_object";

pub struct Migration {
    pool: PgPool,
    config: Config,
}

impl Migration {
    pub fn new(pool: PgPool, config: Config) -> Migration {
        Migration { pool, config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The phase as stored (Fresh if the migration never started).
    pub async fn phase(&self) -> Result<Phase> {
        self.stored_phase().await
    }

    // ---- step 1 -----------------------------------------------------------

    /// Add `profile_jsonb jsonb` (nullable, no default) to `customers` and move
    /// to [`Phase::Expanded`]. Never rewrites the table. Once the migration is
    /// at Expanded or later, does nothing and reports `attempts: 0`.
    pub async fn expand(&self) -> Result<DdlReport> {
        // TODO(step 1): done already? Else one DDL through `self.ddl`,
        // recording Phase::Expanded.
        todo!("step 1: add the nullable profile_jsonb column (see README step 1)")
    }

    // ---- step 2 -----------------------------------------------------------

    /// Install the trigger that sets `profile_jsonb` from `profile` on every
    /// insert and every update of `profile`, and move to
    /// [`Phase::DualWriting`]. Requires [`Phase::Expanded`] (else
    /// [`MigrationError::WrongPhase`]); once at DualWriting or later, does
    /// nothing and reports `attempts: 0`.
    ///
    /// Text that is not a JSON object must never fail the writer's statement:
    /// store NULL and upsert the row into `customers_profile_quarantine` with
    /// the reason (Postgres's message for text that is not JSON); a later
    /// valid write removes it from the quarantine. Valid JSON that is not an
    /// object (`[1]`, `"x"`, `null`) counts as bad too: step 4's constraint
    /// admits objects only. Name every function you create
    /// `customers_profile_*`, so contract can drop them.
    pub async fn install_dual_write(&self) -> Result<DdlReport> {
        // TODO(step 2): check the phase; CREATE OR REPLACE the function(s) and
        // the trigger through `self.ddl`, recording Phase::DualWriting.
        todo!("step 2: install the dual-write trigger (see README step 2)")
    }

    /// Rows in `customers_profile_quarantine`, lowest id first.
    pub async fn quarantined(&self) -> Result<Vec<Quarantined>> {
        // TODO(step 2): SELECT customer_id, profile, error ... ORDER BY customer_id.
        todo!("step 2: list the quarantined rows")
    }

    // ---- step 3 -----------------------------------------------------------

    /// The backfill's committed checkpoint (`migration_progress.last_id` and
    /// `rows_done`), or `None` if no batch ever committed.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>> {
        // TODO(step 3): read last_id, rows_done for MIGRATION; None when last_id is 0.
        todo!("step 3: read the checkpoint")
    }

    /// Fill `profile_jsonb` for every row, in keyset batches of
    /// `config.batch_size` (by id), resuming after the committed checkpoint.
    /// Requires [`Phase::DualWriting`]. Calls `on_progress` after each
    /// committed batch, pauses `config.throttle` between batches, and moves to
    /// [`Phase::Backfilled`] when no rows are left.
    ///
    /// Each batch must be one transaction that converts its rows *and* moves
    /// the checkpoint, and must never overwrite a value the trigger wrote
    /// since the batch began.
    pub async fn backfill(
        &self,
        on_progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<BackfillReport> {
        // TODO(step 3): require DualWriting; start from the checkpoint; loop over
        // batches (each bounded by statement_timeout) until one is empty.
        todo!("step 3: backfill in short, checkpointed batches (see README step 3)")
    }

    // ---- step 4 -----------------------------------------------------------

    /// Add [`CONSTRAINT`] (`profile_jsonb IS NULL OR jsonb_typeof(profile_jsonb)
    /// = 'object'`) NOT VALID, then VALIDATE it; compare both columns row by
    /// row; move to [`Phase::Validated`] only if the result is clean, and back
    /// from Validated to [`Phase::Backfilled`] if it is not. Requires
    /// [`Phase::Backfilled`]; can be run again (fix the rows, validate again).
    ///
    /// A VALIDATE that finds a row breaking the constraint
    /// ([`MigrationError::is_check_violation`]) is a finding, not an error: the
    /// constraint stays NOT VALID, and the comparison reports the row.
    pub async fn validate(&self) -> Result<Validation> {
        // TODO(step 4): two DDLs through `self.ddl`, in two transactions, then
        // one comparison query; `self.step_back(..)` when it is not clean.
        todo!("step 4: validate the constraint and compare the columns (see README step 4)")
    }

    /// Move to [`Phase::Switched`], which makes the application read
    /// `profile_jsonb`. Refused with [`MigrationError::NotValidated`] unless the
    /// migration is at least [`Phase::Validated`], i.e. unless the last
    /// validation was clean.
    pub async fn switch_reads(&self) -> Result<()> {
        // TODO(step 4)
        todo!("step 4: switch reads once validated")
    }

    // ---- step 5 -----------------------------------------------------------

    /// Drop the trigger, the `customers_profile_*` functions and the old column,
    /// and rename `profile_jsonb` to `profile`, under `lock_timeout` with retry.
    /// Requires [`Phase::Switched`]; once contracted, returns `attempts: 0`.
    pub async fn contract(&self) -> Result<DdlReport> {
        // TODO(step 5): check the phase; one `self.ddl` with every statement.
        todo!("step 5: contract (see README step 5)")
    }

    // ---- shared -----------------------------------------------------------

    /// Run `statements` in one transaction with `lock_timeout` set to
    /// `config.lock_timeout`, record `phase` in the same transaction, and on a
    /// lock timeout ([`MigrationError::is_lock_timeout`]) back off
    /// (`config.retry_backoff`, doubling, capped at 1 s) and try again, up to
    /// `config.ddl_attempts` times; then [`MigrationError::LockTimeout`].
    async fn ddl(&self, what: &str, statements: &[&str], phase: Phase) -> Result<DdlReport> {
        // TODO(step 1): the retry loop. `SET LOCAL` keeps the timeout inside the
        // transaction; `sqlx::raw_sql(sqlx::AssertSqlSafe(..))` runs DDL text.
        todo!("step 1: DDL with lock_timeout and retry (see README step 1)")
    }
}

impl Bookkeeping for Migration {
    fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn limit(&self) -> Duration {
        self.config.statement_timeout
    }
}
