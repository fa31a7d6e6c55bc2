// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! The tables of both services (provided). In production they would live in
//! two databases; here one test database holds both, which changes nothing
//! about the lessons.
//!
//! Consumer side (the "billing" service, steps 1–5):
//! * `orders`, `customer_totals` — the effect of the events;
//! * `effect_log` — one row per *application* of an event's effect, written by
//!   [`crate::effects::apply`] in the effect's own transaction. It exists so
//!   the tests can count applications; a real service would not keep it.
//! * `processed_events` — the dedup record of step 3.
//!
//! Producer side (the "order" service, step 6): `shop_orders` and `outbox`.

use sqlx::PgPool;

pub async fn create(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS orders (
             order_id     text PRIMARY KEY,
             customer     text NOT NULL,
             amount_cents bigint NOT NULL,
             status       text NOT NULL
         );
         CREATE TABLE IF NOT EXISTS customer_totals (
             customer    text PRIMARY KEY,
             total_cents bigint NOT NULL,
             events      bigint NOT NULL
         );
         CREATE TABLE IF NOT EXISTS effect_log (
             id         bigserial PRIMARY KEY,
             event_id   text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
         );
         CREATE INDEX IF NOT EXISTS effect_log_event ON effect_log (event_id);
         CREATE TABLE IF NOT EXISTS processed_events (
             event_id     text PRIMARY KEY,
             partition    integer NOT NULL,
             kafka_offset bigint NOT NULL,
             processed_at timestamptz NOT NULL DEFAULT now()
         );
         CREATE TABLE IF NOT EXISTS shop_orders (
             order_id     text PRIMARY KEY,
             customer     text NOT NULL,
             amount_cents bigint NOT NULL CHECK (amount_cents > 0),
             created_at   timestamptz NOT NULL DEFAULT now()
         );
         CREATE TABLE IF NOT EXISTS outbox (
             id           bigserial PRIMARY KEY,
             event_id     text NOT NULL UNIQUE,
             event_key    text NOT NULL,
             payload      bytea NOT NULL,
             created_at   timestamptz NOT NULL DEFAULT now(),
             published_at timestamptz
         );
         -- The relay's query: the oldest unpublished rows.
         CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;",
    )
    .execute(pool)
    .await?;
    Ok(())
}
