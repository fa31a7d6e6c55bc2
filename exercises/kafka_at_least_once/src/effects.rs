// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! The business effect of one event (provided): what "applying" means.
//!
//! It runs inside the caller's transaction and does not commit. It is *not*
//! idempotent — applied twice, a `Placed` event counts the order twice — which
//! is exactly why the consumer needs step 3's dedup record.

use sqlx::PgConnection;

use crate::event::{EventKind, OrderEvent};

pub async fn apply(conn: &mut PgConnection, event: &OrderEvent) -> sqlx::Result<()> {
    let status = match event.kind {
        EventKind::Placed => "placed",
        EventKind::Cancelled => "cancelled",
    };
    sqlx::query(
        "INSERT INTO orders (order_id, customer, amount_cents, status) VALUES ($1, $2, $3, $4)
         ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status",
    )
    .bind(&event.order_id)
    .bind(&event.customer)
    .bind(event.amount_cents)
    .bind(status)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO customer_totals (customer, total_cents, events) VALUES ($1, $2, 1)
         ON CONFLICT (customer) DO UPDATE
         SET total_cents = customer_totals.total_cents + EXCLUDED.total_cents,
             events = customer_totals.events + 1",
    )
    .bind(&event.customer)
    .bind(event.delta_cents())
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO effect_log (event_id) VALUES ($1)")
        .bind(&event.event_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
