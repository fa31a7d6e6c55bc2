// PROVIDED: read it, do not change it.
//! The payments service's schema (`sql/schema.sql`), applied to a primary.

use sqlx::PgConnection;

/// The schema, commented, as the tests apply it.
pub const SCHEMA: &str = include_str!("../sql/schema.sql");

/// Create the tables on a fresh primary; the standbys get them by replication.
pub async fn apply(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(SCHEMA).execute(conn).await?;
    Ok(())
}
