// PROVIDED: read it, do not change it.
//! The payments service's plain write and read: what every client does today,
//! with no idea that a failover can happen. The tests use these to make
//! acknowledged writes whose fate they then check.

use sqlx::PgConnection;

/// A write the client was told succeeded: its COMMIT returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub id: i64,
    pub reference: String,
}

/// A payment as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Payment {
    pub id: i64,
    pub reference: String,
    pub amount: i64,
    pub epoch: i64,
}

/// Insert a payment in its own transaction and acknowledge it once the COMMIT
/// returns (at whatever `synchronous_commit` the session has).
pub async fn write_payment(
    conn: &mut PgConnection,
    reference: &str,
    amount: i64,
) -> Result<Ack, sqlx::Error> {
    let id: i64 =
        sqlx::query_scalar("INSERT INTO payments (reference, amount) VALUES ($1, $2) RETURNING id")
            .bind(reference)
            .bind(amount)
            .fetch_one(conn)
            .await?;
    Ok(Ack {
        id,
        reference: reference.to_string(),
    })
}

/// The payment with this id, if the server has it.
pub async fn read_payment(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<Payment>, sqlx::Error> {
    sqlx::query_as("SELECT id, reference, amount, epoch FROM payments WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// How many payments carry this reference.
pub async fn count_reference(conn: &mut PgConnection, reference: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM payments WHERE reference = $1")
        .bind(reference)
        .fetch_one(conn)
        .await
}
