//! The migration, one method per step: expand → dual write → backfill →
//! validate → switch → contract.
//!
//! Two rules run through all of it:
//! * **Every DDL statement waits at most `lock_timeout` for its lock, and is
//!   retried with backoff.** A DDL that waits in the lock queue blocks every
//!   writer that arrives after it, even though it holds nothing yet; an
//!   unbounded wait behind one long transaction is an outage. Failing fast and
//!   trying again later costs the migration a little time and the application
//!   nothing.
//! * **Row changes happen in short transactions**, each committing its own
//!   checkpoint, so locks are held for one batch, the work is resumable, and a
//!   crash loses at most one batch — which is simply done again.

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

    /// Add `profile_jsonb jsonb` (nullable, no default).
    ///
    /// Adding a column only changes the catalog — no rewrite, no scan — unless
    /// its default is volatile (`clock_timestamp()`, `random()`), which must be
    /// computed row by row; since Postgres 11 even a constant default is kept
    /// in the catalog. (A type change, as `ALTER … TYPE`, always rewrites.) The
    /// ACCESS EXCLUSIVE lock is then held for milliseconds — once it is
    /// granted. Getting it granted is the risk, hence [`Migration::ddl`].
    ///
    /// Once done (the phase commits with the DDL), running it again does
    /// nothing and reports `attempts: 0` — after the contract too, where adding
    /// the column again would leave an empty `profile_jsonb` behind.
    pub async fn expand(&self) -> Result<DdlReport> {
        if self.phase().await? >= Phase::Expanded {
            return Ok(DdlReport { attempts: 0 });
        }
        self.ddl(
            "expand (ADD COLUMN profile_jsonb)",
            &["ALTER TABLE customers ADD COLUMN IF NOT EXISTS profile_jsonb jsonb"],
            Phase::Expanded,
        )
        .await
    }

    // ---- step 2 -----------------------------------------------------------

    /// Install the dual-write trigger: every insert, and every update of
    /// `profile`, sets `profile_jsonb` in the same statement.
    ///
    /// Text that is not a JSON object never fails the application's
    /// statement: the conversion catches the error, stores NULL, and records
    /// the row and the reason (Postgres's message, for text that is not JSON)
    /// in `customers_profile_quarantine`. A later valid write takes the row out
    /// of quarantine again. Valid JSON that is not an object (`[1]`, `"x"`,
    /// `null`) is bad data too: step 4's constraint admits objects only, so
    /// storing it would make the writer's statement fail once the constraint
    /// exists.
    ///
    /// Cost: one function call per written row, and a subtransaction for every
    /// call, valid text included: a PL/pgSQL block with an EXCEPTION clause
    /// starts one each time it is entered (and invalid text enters a second
    /// one, for the reason). On Postgres 16+, `pg_input_is_valid(text,
    /// 'jsonb')` avoids the exception blocks entirely.
    ///
    /// Once done, running it again does nothing and reports `attempts: 0` —
    /// after the contract too, where the trigger would set a column that no
    /// longer exists and fail every write.
    pub async fn install_dual_write(&self) -> Result<DdlReport> {
        let current = self.phase().await?;
        if current >= Phase::DualWriting {
            return Ok(DdlReport { attempts: 0 });
        }
        if current < Phase::Expanded {
            return Err(MigrationError::WrongPhase {
                step: "install_dual_write",
                needs: Phase::Expanded,
                current,
            });
        }
        self.ddl(
            "install the dual-write trigger",
            &[
                // Pure: NULL for NULL, for text that is not JSON, and for JSON
                // that is not an object.
                "CREATE OR REPLACE FUNCTION customers_profile_parse(p_text text) RETURNS jsonb
                 LANGUAGE plpgsql IMMUTABLE AS $$
                 DECLARE
                     parsed jsonb;
                 BEGIN
                     parsed := p_text::jsonb;
                     RETURN CASE WHEN jsonb_typeof(parsed) = 'object' THEN parsed END;
                 EXCEPTION WHEN data_exception THEN
                     RETURN NULL;
                 END $$",
                // Converts, and keeps the quarantine in step with the row.
                "CREATE OR REPLACE FUNCTION customers_profile_convert(p_id bigint, p_text text)
                 RETURNS jsonb LANGUAGE plpgsql AS $$
                 DECLARE
                     converted jsonb := customers_profile_parse(p_text);
                     reason text;
                 BEGIN
                     IF p_text IS NOT NULL AND converted IS NULL THEN
                         BEGIN
                             reason := 'JSON ' || jsonb_typeof(p_text::jsonb) || ', not an object';
                         EXCEPTION WHEN data_exception THEN
                             reason := SQLERRM;
                         END;
                         INSERT INTO customers_profile_quarantine (customer_id, profile, error, seen_at)
                         VALUES (p_id, p_text, reason, now())
                         ON CONFLICT (customer_id) DO UPDATE
                             SET profile = EXCLUDED.profile, error = EXCLUDED.error, seen_at = EXCLUDED.seen_at;
                     ELSE
                         DELETE FROM customers_profile_quarantine WHERE customer_id = p_id;
                     END IF;
                     RETURN converted;
                 END $$",
                "CREATE OR REPLACE FUNCTION customers_profile_sync() RETURNS trigger
                 LANGUAGE plpgsql AS $$
                 BEGIN
                     NEW.profile_jsonb := customers_profile_convert(NEW.id, NEW.profile);
                     RETURN NEW;
                 END $$",
                // `UPDATE OF profile`: updates of other columns (and the
                // backfill's own updates of profile_jsonb) do not fire it.
                "CREATE OR REPLACE TRIGGER customers_profile_sync
                 BEFORE INSERT OR UPDATE OF profile ON customers
                 FOR EACH ROW EXECUTE FUNCTION customers_profile_sync()",
            ],
            Phase::DualWriting,
        )
        .await
    }

    /// Rows whose text is not a JSON object, lowest id first.
    pub async fn quarantined(&self) -> Result<Vec<Quarantined>> {
        let rows: Vec<(i64, String, String)> = self
            .bounded(
                "listing the quarantine",
                sqlx::query_as(
                    "SELECT customer_id, profile, error FROM customers_profile_quarantine
                     ORDER BY customer_id",
                )
                .fetch_all(&self.pool),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(customer_id, profile, error)| Quarantined {
                customer_id,
                profile,
                error,
            })
            .collect())
    }

    // ---- step 3 -----------------------------------------------------------

    /// The backfill's committed checkpoint, if it ever ran.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>> {
        let row: Option<(i64, i64)> = self
            .bounded(
                "reading the checkpoint",
                sqlx::query_as("SELECT last_id, rows_done FROM migration_progress WHERE name = $1")
                    .bind(MIGRATION)
                    .fetch_optional(&self.pool),
            )
            .await?;
        Ok(row.and_then(|(last_id, rows_done)| {
            (last_id > 0).then_some(Checkpoint { last_id, rows_done })
        }))
    }

    /// Convert every existing row, in keyset batches, resuming after the
    /// committed checkpoint.
    ///
    /// Each batch is one transaction that converts up to `batch_size` rows
    /// *and* moves the checkpoint: either both commit or neither does, so a
    /// crash anywhere redoes at most the batch in flight, and never skips one.
    ///
    /// The batch converts the row's *current* text (`c.profile`, read under
    /// the row lock the UPDATE takes) and only rows still without JSON. If the
    /// application changes a row while the batch waits for it, Postgres
    /// re-checks the condition on the new version, finds the trigger already
    /// filled it, and leaves it alone — a stale copy of the text read earlier
    /// would overwrite the newer value.
    pub async fn backfill(
        &self,
        on_progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<BackfillReport> {
        // Without the trigger, rows written during the backfill would be missed.
        self.require("backfill", Phase::DualWriting).await?;
        let start = self.checkpoint().await?.unwrap_or(Checkpoint {
            last_id: 0,
            rows_done: 0,
        });
        // Exact at this size. At 50M rows use pg_class.reltuples, an estimate
        // that costs nothing.
        let rows_total: i64 = self
            .bounded(
                "counting rows",
                sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(&self.pool),
            )
            .await?;
        let mut report = BackfillReport {
            resumed_from: start.last_id,
            batches: 0,
            rows_updated: 0,
            rows_done: start.rows_done,
        };
        let mut last_id = start.last_id;
        loop {
            let batch = self
                .bounded("a backfill batch", self.backfill_batch(last_id))
                .await?;
            let Some((batch_last, scanned, updated)) = batch else {
                break;
            };
            last_id = batch_last;
            report.batches += 1;
            report.rows_updated += updated as u64;
            report.rows_done += scanned;
            on_progress(Progress {
                rows_done: report.rows_done,
                rows_total,
                last_id,
            });
            if !self.config.throttle.is_zero() {
                tokio::time::sleep(self.config.throttle).await;
            }
        }
        self.advance(Phase::Backfilled).await?;
        info!(
            batches = report.batches,
            rows = report.rows_done,
            "backfill done"
        );
        Ok(report)
    }

    /// One batch after `after`: `None` when no rows are left, else the batch's
    /// last id, rows scanned and rows changed.
    ///
    /// No `lock_timeout` here: like any writer, the batch waits for a row an
    /// application transaction holds, and meanwhile holds the rows it already
    /// converted. Batches of milliseconds keep both waits short; at scale, a
    /// `lock_timeout` with a retry of the batch would bound them.
    async fn backfill_batch(&self, after: i64) -> Result<Option<(i64, i64, i64)>> {
        let mut tx = self.pool.begin().await?;
        let row: PgRow = sqlx::query(
            "WITH batch AS (
                 SELECT id FROM customers WHERE id > $1 ORDER BY id LIMIT $2
             ), done AS (
                 UPDATE customers c
                 SET profile_jsonb = customers_profile_convert(c.id, c.profile)
                 FROM batch
                 WHERE c.id = batch.id AND c.profile_jsonb IS NULL AND c.profile IS NOT NULL
                 RETURNING c.id
             )
             SELECT (SELECT max(id) FROM batch) AS last_id,
                    (SELECT count(*) FROM batch) AS scanned,
                    (SELECT count(*) FROM done) AS updated",
        )
        .bind(after)
        .bind(self.config.batch_size)
        .fetch_one(&mut *tx)
        .await?;
        let last: Option<i64> = row.try_get("last_id")?;
        let Some(last) = last else {
            return Ok(None);
        };
        let (scanned, updated): (i64, i64) = (row.try_get("scanned")?, row.try_get("updated")?);
        // The checkpoint moves in the same transaction as the rows it covers.
        sqlx::query(
            "UPDATE migration_progress
             SET last_id = $2, rows_done = rows_done + $3, updated_at = now()
             WHERE name = $1",
        )
        .bind(MIGRATION)
        .bind(last)
        .bind(scanned)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some((last, scanned, updated)))
    }

    // ---- step 4 -----------------------------------------------------------

    /// Add the CHECK constraint NOT VALID, validate it, and compare the two
    /// columns row by row. Moves to [`Phase::Validated`] only if clean; a
    /// dirty result withdraws an earlier clean one (Validated → Backfilled),
    /// so [`Migration::switch_reads`] always goes by the last validation.
    ///
    /// `ADD CONSTRAINT … NOT VALID` takes ACCESS EXCLUSIVE for a catalog change
    /// only (bounded by `lock_timeout`, like every DDL), and commits;
    /// `VALIDATE CONSTRAINT`, in a transaction of its own, then scans under
    /// SHARE UPDATE EXCLUSIVE, which writers do not conflict with. One `ADD
    /// CONSTRAINT` without NOT VALID — or a VALIDATE in the ADD's transaction
    /// — would scan the whole table while holding ACCESS EXCLUSIVE.
    ///
    /// A row that breaks the constraint (JSON that is not an object, written
    /// behind the trigger's back) fails the VALIDATE: that is a finding, not an
    /// error. The constraint stays NOT VALID, the comparison reports the row,
    /// and a run after the row is fixed validates it.
    pub async fn validate(&self) -> Result<Validation> {
        self.require("validate", Phase::Backfilled).await?;
        let add = format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = '{CONSTRAINT}') THEN
                     ALTER TABLE customers ADD CONSTRAINT {CONSTRAINT}
                         CHECK (profile_jsonb IS NULL OR jsonb_typeof(profile_jsonb) = 'object') NOT VALID;
                 END IF;
             END $$"
        );
        let check = format!("ALTER TABLE customers VALIDATE CONSTRAINT {CONSTRAINT}");
        self.ddl(
            "add the constraint NOT VALID",
            &[add.as_str()],
            Phase::Backfilled,
        )
        .await?;
        match self
            .ddl(
                "validate the constraint",
                &[check.as_str()],
                Phase::Backfilled,
            )
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_check_violation() => {
                warn!(error = %e, "a row breaks the constraint, which stays NOT VALID");
            }
            Err(e) => return Err(e),
        }

        // One statement, one snapshot: the trigger changes both columns in the
        // same row version, so concurrent writes cannot make this disagree.
        let row: PgRow = self
            .bounded(
                "comparing the columns",
                sqlx::query(
                    "WITH cmp AS (
                         SELECT c.id, c.profile_jsonb IS NOT NULL AS has_json,
                                q.customer_id IS NOT NULL AS in_quarantine,
                                CASE
                                    WHEN c.profile IS NULL THEN c.profile_jsonb IS NOT NULL
                                    WHEN customers_profile_parse(c.profile) IS NULL
                                        THEN c.profile_jsonb IS NOT NULL OR q.customer_id IS NULL
                                    ELSE c.profile_jsonb IS DISTINCT FROM customers_profile_parse(c.profile)
                                END AS mismatch
                         FROM customers c
                         LEFT JOIN customers_profile_quarantine q ON q.customer_id = c.id
                     )
                     SELECT count(*) AS rows,
                            count(*) FILTER (WHERE has_json) AS with_json,
                            count(*) FILTER (WHERE in_quarantine) AS quarantined,
                            count(*) FILTER (WHERE mismatch) AS mismatched,
                            coalesce((SELECT array_agg(id) FROM
                                (SELECT id FROM cmp WHERE mismatch ORDER BY id LIMIT 100) m),
                                '{}') AS mismatched_ids,
                            (SELECT coalesce(bool_and(convalidated), false) FROM pg_constraint
                             WHERE conname = $1) AS constraint_validated
                     FROM cmp",
                )
                .bind(CONSTRAINT)
                .fetch_one(&self.pool),
            )
            .await?;
        let validation = Validation {
            rows: row.try_get("rows")?,
            with_json: row.try_get("with_json")?,
            quarantined: row.try_get("quarantined")?,
            mismatched: row.try_get("mismatched")?,
            mismatched_ids: row.try_get("mismatched_ids")?,
            constraint_validated: row.try_get("constraint_validated")?,
        };
        if validation.is_clean() {
            self.advance(Phase::Validated).await?;
        } else {
            // An earlier clean validation no longer stands. (After the switch
            // the phase stays where it is: reads have moved already, and this
            // report is what to act on.)
            self.step_back(Phase::Validated, Phase::Backfilled).await?;
            warn!(?validation, "validation found disagreements");
        }
        Ok(validation)
    }

    /// Point the application's reads at `profile_jsonb`. Refused unless the
    /// last validation was clean (a clean one moves the phase to Validated, a
    /// dirty one moves it back).
    pub async fn switch_reads(&self) -> Result<()> {
        let current = self.phase().await?;
        if current < Phase::Validated {
            return Err(MigrationError::NotValidated(format!(
                "the migration is at {current:?}; run validate() until it is clean before switching reads"
            )));
        }
        self.advance(Phase::Switched).await
    }

    // ---- step 5 -----------------------------------------------------------

    /// Drop the trigger, its functions and the old column, and rename
    /// `profile_jsonb` to `profile` — in one transaction, so no statement ever
    /// sees the table without a `profile` column, and all of it under
    /// `lock_timeout` with retries.
    pub async fn contract(&self) -> Result<DdlReport> {
        let current = self.phase().await?;
        if current == Phase::Contracted {
            return Ok(DdlReport { attempts: 0 });
        }
        if current < Phase::Switched {
            return Err(MigrationError::WrongPhase {
                step: "contract",
                needs: Phase::Switched,
                current,
            });
        }
        self.ddl(
            "contract (drop trigger and old column, rename)",
            &[
                "DROP TRIGGER IF EXISTS customers_profile_sync ON customers",
                "DROP FUNCTION IF EXISTS customers_profile_sync()",
                "DROP FUNCTION IF EXISTS customers_profile_convert(bigint, text)",
                "DROP FUNCTION IF EXISTS customers_profile_parse(text)",
                "ALTER TABLE customers DROP COLUMN profile",
                "ALTER TABLE customers RENAME COLUMN profile_jsonb TO profile",
            ],
            Phase::Contracted,
        )
        .await
    }

    // ---- shared -----------------------------------------------------------

    /// Run `statements` in one transaction under `lock_timeout`, record
    /// `phase` in the same transaction, and retry the whole transaction after
    /// a lock timeout with exponential backoff.
    ///
    /// Production would add jitter to the backoff when several migrators may
    /// run, and page someone when the attempts run out.
    async fn ddl(&self, what: &str, statements: &[&str], phase: Phase) -> Result<DdlReport> {
        let mut backoff = self.config.retry_backoff;
        for attempt in 1..=self.config.ddl_attempts {
            let outcome = self.bounded(what, self.ddl_once(statements, phase)).await;
            match outcome {
                Ok(()) => return Ok(DdlReport { attempts: attempt }),
                Err(e) if e.is_lock_timeout() => {
                    warn!(
                        what,
                        attempt, "lock not granted within lock_timeout; backing off"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(e),
            }
        }
        Err(MigrationError::LockTimeout {
            what: what.to_string(),
            attempts: self.config.ddl_attempts,
        })
    }

    async fn ddl_once(&self, statements: &[&str], phase: Phase) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // SET LOCAL: the timeout ends with this transaction and never leaks to
        // the pooled connection's next user.
        let millis = self.config.lock_timeout.as_millis().max(1);
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SET LOCAL lock_timeout = '{millis}ms'"
        )))
        .execute(&mut *tx)
        .await?;
        for statement in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(&mut *tx)
                .await?;
        }
        advance_in(&mut tx, phase).await?;
        tx.commit().await?;
        Ok(())
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
