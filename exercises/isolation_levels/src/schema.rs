// PROVIDED: creates the tables the steps use. You do not need to change this file.

//! The schema, from the commented SQL in `sql/`.

use crate::db::Db;

/// Create the tables of steps 2–6 (Postgres) or of steps 2 and 5 (MariaDB)
/// in an empty database.
pub async fn create(db: &Db) -> Result<(), sqlx::Error> {
    match db {
        Db::Postgres(pool) => sqlx::raw_sql(include_str!("../sql/postgres.sql"))
            .execute(pool)
            .await
            .map(drop),
        Db::MariaDb(pool) => sqlx::raw_sql(include_str!("../sql/mariadb.sql"))
            .execute(pool)
            .await
            .map(drop),
    }
}

/// An event with `seats` seats available.
pub async fn add_event(db: &Db, event: i32, seats: i32) -> Result<(), sqlx::Error> {
    match db {
        Db::Postgres(pool) => {
            sqlx::query("INSERT INTO seats (event_id, available) VALUES ($1, $2)")
                .bind(event)
                .bind(seats)
                .execute(pool)
                .await?;
        }
        Db::MariaDb(pool) => {
            sqlx::query("INSERT INTO seats (event_id, available) VALUES (?, ?)")
                .bind(event)
                .bind(seats)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}
