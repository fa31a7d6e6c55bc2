//! What every step's tests stand on: a seeded database per test, the spec's
//! own reading of plans (so a later step's failure never comes from your step
//! 1), and the transactions that get in an index build's way.

pub mod plans;

use std::time::Duration;

use labkit::TestDb;
use slow_query::schema;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

pub use plans::Plan;

/// Seeding 500,000 × LAB_SCALE rows may take a while on a busy machine.
const SEED_LIMIT: Duration = Duration::from_secs(600);

/// The session time zone of every test's database: far from UTC, so that a
/// bound or a cursor written without a time zone lands on the wrong instant.
pub const TIME_ZONE: &str = "Pacific/Auckland";

/// A test's own database: a copy of the seeded template.
pub struct Lab {
    pub db: TestDb,
    pool: PgPool,
}

impl Lab {
    /// A fresh copy of the seeded `orders` (no index but the primary key).
    pub async fn seeded() -> anyhow::Result<Lab> {
        labkit::init_tracing();
        let scale = schema::scale().map_err(anyhow::Error::msg)?;
        let rows = schema::DEFAULT_ROWS * scale;
        // One family per scale (a run at LAB_SCALE=10 must not drop the
        // template of scale 1); the version is the hash of what seeds it.
        let family = format!("slow_query_seed_s{scale}");
        let version = format!("{:016x}", fnv1a(&[schema::SCHEMA_SQL, schema::SEED_SQL]));
        let template =
            labkit::postgres::ensure_template(&family, &version, SEED_LIMIT, |pool| async move {
                schema::create(&pool).await?;
                schema::seed(&pool, rows, scale).await?;
                Ok(())
            })
            .await?;
        let db = TestDb::from_template(&template).await?;
        // sqlx asks for TimeZone=UTC when it connects; every session of the
        // test's own pool switches to TIME_ZONE right after.
        let connecting = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query(sqlx::AssertSqlSafe(format!("SET TIME ZONE '{TIME_ZONE}'")))
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            })
            .connect(db.url());
        let pool = labkit::within(
            Duration::from_secs(10),
            format!("connecting to Postgres at {}", db.url()),
            connecting,
        )
        .await??;
        Ok(Lab { db, pool })
    }

    /// A pool on the test's database (sessions in [`TIME_ZONE`]).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A plan of `sql` with `params`, read by the spec itself.
    pub async fn plan(&self, sql: &str, params: &[slow_query::Param]) -> anyhow::Result<Plan> {
        plans::explain(self.pool(), sql, params).await
    }

    /// `CREATE INDEX` of `index` by the spec itself (plainly: nobody else is
    /// writing), so steps 3 to 5 do not depend on your step 2's `build`.
    pub async fn create_index(&self, index: &slow_query::IndexDef) -> anyhow::Result<()> {
        let sql = format!("CREATE INDEX {} {}", index.name, index.definition);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// `VACUUM orders`: the visibility map made current.
    pub async fn vacuum(&self) -> anyhow::Result<()> {
        sqlx::query("VACUUM orders").execute(self.pool()).await?;
        Ok(())
    }

    /// Insert `n` orders for `customer` at one instant (`micros` since the
    /// epoch); returns their ids, in insertion order.
    pub async fn insert_orders(
        &self,
        customer: i64,
        n: i64,
        micros: i64,
    ) -> anyhow::Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "INSERT INTO orders (customer_id, created_at, status, total_cents, currency, items, shipping_address)
             SELECT $1, timestamptz 'epoch' + $3 * interval '1 microsecond', 'placed', 1000 + g, 'EUR', '[]', 'test'
               FROM generate_series(1, $2) AS g
             RETURNING id",
        )
        .bind(customer)
        .bind(n)
        .bind(micros)
        .fetch_all(self.pool())
        .await?)
    }

    /// `indisvalid` of the index `name`, or `None` if there is none.
    pub async fn index_validity(&self, name: &str) -> anyhow::Result<Option<bool>> {
        Ok(
            sqlx::query_scalar(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
            )
            .bind(name)
            .fetch_optional(self.pool())
            .await?,
        )
    }

    /// The oid of the index `name`, if there is one (a rebuilt index has a new one).
    pub async fn index_oid(&self, name: &str) -> anyhow::Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT to_regclass($1)::oid::bigint")
            .bind(name)
            .fetch_one(self.pool())
            .await?)
    }

    /// The names of every index on `orders` but its primary key.
    pub async fn order_indexes(&self) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT indexrelid::regclass::text FROM pg_index
              WHERE indrelid = 'orders'::regclass AND NOT indisprimary ORDER BY 1",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// A connection of the test's own (not from the pool), in [`TIME_ZONE`].
    pub async fn connection(&self) -> anyhow::Result<PgConnection> {
        let mut conn = labkit::within(
            Duration::from_secs(5),
            format!("connecting to Postgres at {}", self.db.url()),
            PgConnection::connect(self.db.url()),
        )
        .await??;
        sqlx::query(sqlx::AssertSqlSafe(format!("SET TIME ZONE '{TIME_ZONE}'")))
            .execute(&mut conn)
            .await?;
        Ok(conn)
    }

    /// A writer's INSERT, on a connection of its own that will not wait for a
    /// lock longer than `patience`.
    pub async fn insert_within(
        &self,
        patience: Duration,
    ) -> anyhow::Result<Result<(), sqlx::Error>> {
        let mut writer = self.connection().await?;
        let ms = patience.as_millis();
        sqlx::query(sqlx::AssertSqlSafe(format!("SET lock_timeout = '{ms}ms'")))
            .execute(&mut writer)
            .await?;
        Ok(sqlx::query(
            "INSERT INTO orders (customer_id, created_at, status, total_cents, currency, items, shipping_address)
             VALUES (42, now(), 'placed', 100, 'EUR', '[]', 'x')",
        )
        .execute(&mut writer)
        .await
        .map(|_| ()))
    }

    /// A transaction that has written to `orders` and stays open until the
    /// returned connection commits or is dropped: what a forgotten session or
    /// a long batch job looks like to an index build.
    pub async fn open_writer_transaction(&self) -> anyhow::Result<PgConnection> {
        let mut conn = self.connection().await?;
        sqlx::query("BEGIN").execute(&mut conn).await?;
        sqlx::query("UPDATE orders SET status = status WHERE id = 1")
            .execute(&mut conn)
            .await?;
        Ok(conn)
    }

    /// Wait (bounded) until a backend running a statement that starts with
    /// `prefix` waits for a lock.
    pub async fn until_waiting_for_a_lock(&self, prefix: &str) -> anyhow::Result<i32> {
        let pattern = format!("{prefix}%");
        const WAITING: &str = "SELECT pid FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE $1";
        labkit::eventually(
            Duration::from_secs(20),
            format!("a statement `{prefix}…` waiting for a lock"),
            || async {
                let found: Option<i32> = sqlx::query_scalar(WAITING)
                    .bind(&pattern)
                    .fetch_optional(self.pool())
                    .await?;
                Ok(found.is_some())
            },
        )
        .await?;
        Ok(sqlx::query_scalar(WAITING)
            .bind(&pattern)
            .fetch_one(self.pool())
            .await?)
    }
}

/// Commit a transaction opened by [`Lab::open_writer_transaction`].
pub async fn commit(mut conn: PgConnection) -> anyhow::Result<()> {
    sqlx::query("COMMIT").execute(&mut conn).await?;
    Ok(())
}

/// A stable 64-bit hash (FNV-1a) of the texts the template is seeded from:
/// change the schema or the generator and a new template is seeded.
fn fnv1a(texts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in texts.iter().flat_map(|t| t.bytes().chain([0])) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
