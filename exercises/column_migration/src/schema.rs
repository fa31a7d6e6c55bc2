// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! The table being migrated, the migration's bookkeeping tables, and the seed.
//!
//! `customers.profile` is `varchar` holding JSON text written by the old
//! application; some of it is not valid JSON. The bookkeeping tables exist
//! before the migration starts, so every step (and every test) can read them.

use sqlx::PgPool;

/// The `migration_progress.name` of this migration.
pub const MIGRATION: &str = "customers.profile";

/// Create `customers`, `customers_profile_quarantine` and `migration_progress`.
pub async fn create(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS customers (
             id      bigserial PRIMARY KEY,
             email   text NOT NULL,
             profile varchar
         );
         -- Rows whose profile text is not a JSON object: the plan for bad data is to keep
         -- it, with the reason, for a person to fix, never to fail a writer.
         CREATE TABLE IF NOT EXISTS customers_profile_quarantine (
             customer_id bigint PRIMARY KEY,
             profile     text NOT NULL,
             error       text NOT NULL,
             seen_at     timestamptz NOT NULL DEFAULT now()
         );
         -- One row per migration: its phase and the backfill's checkpoint.
         CREATE TABLE IF NOT EXISTS migration_progress (
             name       text PRIMARY KEY,
             phase      text NOT NULL DEFAULT 'fresh',
             last_id    bigint NOT NULL DEFAULT 0,
             rows_done  bigint NOT NULL DEFAULT 0,
             updated_at timestamptz NOT NULL DEFAULT now()
         );",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Insert `rows` customers with ids 1..=rows, generated inside Postgres (one
/// statement, no round trip per row). Every `invalid_every`-th row (if not 0)
/// gets text that is not JSON; every other row gets [`seed_profile`]'s JSON.
pub async fn seed(pool: &PgPool, rows: i64, invalid_every: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO customers (id, email, profile)
         SELECT i, 'customer' || i || '@example.com',
                CASE WHEN $2 > 0 AND i % $2 = 0
                     THEN '{\"id\": ' || i || ', \"plan\": '   -- cut short: not JSON
                     ELSE json_build_object('id', i, 'plan', (ARRAY['free','pro','team'])[1 + i % 3],
                                            'tags', json_build_array('t' || (i % 7)))::text
                END
         FROM generate_series(1, $1::bigint) AS i",
    )
    .bind(rows)
    .bind(invalid_every)
    .execute(pool)
    .await?;
    // Keep the sequence ahead of the seeded ids, so the application's inserts work.
    sqlx::query("SELECT setval('customers_id_seq', greatest($1::bigint, 1))")
        .bind(rows)
        .execute(pool)
        .await?;
    sqlx::query("ANALYZE customers").execute(pool).await?;
    Ok(())
}

/// Whether row `id` of a [`seed`] with `invalid_every` got invalid text.
pub fn seeded_invalid(id: i64, invalid_every: i64) -> bool {
    invalid_every > 0 && id % invalid_every == 0
}

/// The JSON [`seed`] wrote for a valid row `id`.
pub fn seed_profile(id: i64) -> serde_json::Value {
    let plan = ["free", "pro", "team"][(id % 3) as usize];
    serde_json::json!({ "id": id, "plan": plan, "tags": [format!("t{}", id % 7)] })
}
