// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! The migration's bookkeeping: its phase in `migration_progress`, which moves
//! forward (the one way back is a dirty validation withdrawing a clean one),
//! and a bound on every await (`statement_timeout`).
//!
//! `Migration` implements [`Bookkeeping`] by handing over its pool and its
//! bound; the steps then call `self.require(..)`, `self.advance(..)`,
//! `self.step_back(..)` and `self.bounded(..)`.

use std::time::Duration;

use sqlx::{PgPool, Postgres, Transaction};

use crate::config::Phase;
use crate::error::MigrationError;
use crate::schema::MIGRATION;

type Result<T> = std::result::Result<T, MigrationError>;

pub(crate) trait Bookkeeping {
    fn pool(&self) -> &PgPool;

    /// The bound on any one statement or transaction.
    fn limit(&self) -> Duration;

    /// Await `fut` for at most [`Bookkeeping::limit`]; a database that stops
    /// answering becomes [`MigrationError::Timeout`], never a hang.
    ///
    /// The bound is the client's: it stops *waiting*. A statement already sent
    /// may go on running in Postgres until it ends or its connection closes;
    /// its transaction then rolls back, unless its COMMIT had already been sent.
    async fn bounded<T, E>(
        &self,
        what: &str,
        fut: impl Future<Output = std::result::Result<T, E>>,
    ) -> Result<T>
    where
        MigrationError: From<E>,
    {
        let limit = self.limit();
        match tokio::time::timeout(limit, fut).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(MigrationError::Timeout {
                what: what.to_string(),
                limit,
            }),
        }
    }

    /// The stored phase ([`Phase::Fresh`] if the migration never started).
    async fn stored_phase(&self) -> Result<Phase> {
        let name: Option<String> = self
            .bounded(
                "reading the phase",
                sqlx::query_scalar("SELECT phase FROM migration_progress WHERE name = $1")
                    .bind(MIGRATION)
                    .fetch_optional(self.pool()),
            )
            .await?;
        Ok(name
            .as_deref()
            .and_then(Phase::parse)
            .unwrap_or(Phase::Fresh))
    }

    /// [`MigrationError::WrongPhase`] unless the stored phase is at least `needs`.
    async fn require(&self, step: &'static str, needs: Phase) -> Result<()> {
        let current = self.stored_phase().await?;
        if current < needs {
            return Err(MigrationError::WrongPhase {
                step,
                needs,
                current,
            });
        }
        Ok(())
    }

    /// Record `phase` in its own transaction.
    async fn advance(&self, phase: Phase) -> Result<()> {
        let pool = self.pool().clone();
        self.bounded("recording the phase", async move {
            let mut tx = pool.begin().await?;
            advance_in(&mut tx, phase).await?;
            tx.commit().await?;
            Ok::<(), MigrationError>(())
        })
        .await
    }

    /// Move the stored phase back from `from` to `to`, if it is exactly at
    /// `from` (otherwise do nothing). The one way back: a dirty validation
    /// withdraws an earlier clean one (Validated → Backfilled), so that
    /// `switch_reads` refuses until the next clean validation.
    async fn step_back(&self, from: Phase, to: Phase) -> Result<()> {
        self.bounded(
            "withdrawing the phase",
            sqlx::query(
                "UPDATE migration_progress SET phase = $3, updated_at = now()
                 WHERE name = $1 AND phase = $2",
            )
            .bind(MIGRATION)
            .bind(from.as_str())
            .bind(to.as_str())
            .execute(self.pool()),
        )
        .await?;
        Ok(())
    }
}

/// Move the stored phase forward to `phase` (never backwards), in `tx` — so a
/// step's DDL and its phase commit together.
pub(crate) async fn advance_in(tx: &mut Transaction<'_, Postgres>, phase: Phase) -> Result<()> {
    let current: Option<String> =
        sqlx::query_scalar("SELECT phase FROM migration_progress WHERE name = $1 FOR UPDATE")
            .bind(MIGRATION)
            .fetch_optional(&mut **tx)
            .await?;
    let current = current
        .as_deref()
        .and_then(Phase::parse)
        .unwrap_or(Phase::Fresh);
    sqlx::query(
        "INSERT INTO migration_progress (name, phase) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET phase = EXCLUDED.phase, updated_at = now()",
    )
    .bind(MIGRATION)
    .bind(current.max(phase).as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
