//! Step 2: one composite index, built without stopping the writers.

use std::time::Duration;

use slow_query::{BuildConfig, IndexError, Param, build, latest_orders_index, schema};

use crate::support::{Lab, commit};

/// The most pages "a customer's latest ten" may touch once indexed: a few
/// index pages and at most ten heap pages (the seeded table reads 8 to 14).
pub const LATEST_TEN_PAGES: u64 = 20;

fn quick() -> BuildConfig {
    BuildConfig {
        lock_timeout: Duration::from_millis(200),
        attempts: 3,
        backoff: Duration::from_millis(10),
    }
}

/// Plenty of patience: for builds that must wait for a transaction to end.
fn patient() -> BuildConfig {
    BuildConfig {
        lock_timeout: Duration::from_secs(20),
        attempts: 1,
        backoff: Duration::from_millis(10),
    }
}

/// The customers the index must serve: a whale, a regular, a new one.
const CUSTOMERS: [(i64, &str); 3] = [
    (schema::WHALE, "the whale (30,000 orders)"),
    (777, "a regular customer (a handful of orders)"),
    (schema::NEW_CUSTOMER, "a new customer (no orders)"),
];

/// After the index: Limit → Index Scan with an Index Cond on customer_id, no
/// Sort, and a few pages, for a whale, a regular and a new customer alike.
#[tokio::test]
async fn step2_the_latest_ten_stop_after_ten_rows_for_every_customer() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let before = lab
        .plan(schema::LATEST_ORDERS_SQL, &[Param::BigInt(schema::WHALE)])
        .await?;
    assert!(
        before.sorts(),
        "without an index Postgres sorts: {}",
        before.describe()
    );

    let index = latest_orders_index();
    build(lab.pool(), &index, &patient()).await?;
    for (customer, who) in CUSTOMERS {
        let total_order = lab
            .plan(
                "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT 10",
                &[Param::BigInt(customer)],
            )
            .await?;
        assert!(
            !total_order.sorts(),
            "README step 2: for {who}, ORDER BY created_at DESC, id DESC still sorts: {}; eight \
             orders share each instant, so step 4's pages need id as the index's third key",
            total_order.describe()
        );
        let plan = lab
            .plan(schema::LATEST_ORDERS_SQL, &[Param::BigInt(customer)])
            .await?;
        assert!(
            !plan.sorts(),
            "README step 2: for {who} Postgres still sorts: {}; the index must give \
             created_at DESC order within a customer",
            plan.describe()
        );
        let scans = plan.of_type("Index Scan");
        assert!(
            plan.shape()[0] == "Limit" && scans.len() == 1,
            "README step 2: for {who} expected Limit → Index Scan, got {}",
            plan.describe()
        );
        assert_eq!(scans[0]["Index Name"].as_str(), Some(index.name));
        let cond = scans[0]["Index Cond"].as_str().unwrap_or_default();
        assert!(
            cond.contains("customer_id"),
            "README step 2: for {who} the index must narrow to the customer (Index Cond), got {cond:?} in {}",
            plan.describe()
        );
        assert!(
            plan.blocks() <= LATEST_TEN_PAGES,
            "README step 2: for {who} the latest ten touched {} pages (at most {LATEST_TEN_PAGES}): {}",
            plan.blocks(),
            plan.describe()
        );
    }
    Ok(())
}

/// While the build waits for a transaction that had already written, new
/// writers still get in: the build never queues them behind itself.
#[tokio::test]
async fn step2_writers_never_wait_for_the_index_build() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let open = lab.open_writer_transaction().await?;
    let pool = lab.pool().clone();
    let building =
        tokio::spawn(async move { build(&pool, &latest_orders_index(), &patient()).await });
    lab.until_waiting_for_a_lock("CREATE INDEX").await?;

    let inserted = lab.insert_within(Duration::from_secs(1)).await?;
    assert!(
        inserted.is_ok(),
        "README step 2: an INSERT waited for the index build and timed out ({:?}): a plain \
         CREATE INDEX holds a SHARE lock that blocks every writer; use CONCURRENTLY",
        inserted.err()
    );
    commit(open).await?;
    let report = labkit::within(Duration::from_secs(60), "the index build", building).await???;
    assert_eq!(report.attempts, 1);
    assert_eq!(
        lab.index_validity(latest_orders_index().name).await?,
        Some(true)
    );
    Ok(())
}

/// A build that cannot get past a transaction within its lock_timeout gives
/// up after exactly `attempts` tries, and says that it left an INVALID index
/// (a drop waits for that transaction too); once the transaction is gone, the
/// next build drops the leftover and ends valid.
#[tokio::test]
async fn step2_a_build_that_keeps_timing_out_gives_up_and_says_what_it_left() -> anyhow::Result<()>
{
    let lab = Lab::seeded().await?;
    let index = latest_orders_index();
    let open = lab.open_writer_transaction().await?;
    for attempts in [1, 3] {
        let config = BuildConfig {
            attempts,
            ..quick()
        };
        match build(lab.pool(), &index, &config).await {
            Err(IndexError::LockTimeout {
                attempts: tried,
                invalid_left,
                ..
            }) => {
                assert_eq!(
                    tried, attempts,
                    "README step 2: LockTimeout must say how many attempts were made"
                );
                assert_eq!(
                    invalid_left,
                    lab.index_validity(index.name).await? == Some(false),
                    "README step 2: LockTimeout must say whether an INVALID index was left"
                );
            }
            other => panic!(
                "README step 2: with a transaction open for the whole build and lock_timeout \
                 200 ms, expected LockTimeout after {attempts} attempts, got {other:?}"
            ),
        }
        // One attempt is a real attempt: its concurrent build got as far as
        // waiting for the open transaction, and left its INVALID index.
        assert_eq!(
            lab.index_validity(index.name).await?,
            Some(false),
            "README step 2: after {attempts} attempt(s) that timed out waiting, an INVALID \
             index is left (did the build try at all?)"
        );
    }
    // Half a millisecond is a timeout too, not "no timeout" ('0ms').
    let tiny = BuildConfig {
        lock_timeout: Duration::from_micros(500),
        attempts: 1,
        ..quick()
    };
    let gave_up = labkit::within(
        Duration::from_secs(30),
        "a build with a 0.5 ms lock_timeout",
        build(lab.pool(), &index, &tiny),
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "README step 2: {e}: round a sub-millisecond lock_timeout up, not down to 0"
        )
    })?;
    assert!(
        matches!(gave_up, Err(IndexError::LockTimeout { .. })),
        "README step 2: {gave_up:?}"
    );
    commit(open).await?;
    let report = build(lab.pool(), &index, &patient()).await?;
    assert_eq!(
        report.dropped_invalid, 1,
        "README step 2: drop the leftover first: {report:?}"
    );
    assert_eq!(lab.index_validity(index.name).await?, Some(true));
    assert_eq!(lab.order_indexes().await?, vec![index.name.to_string()]);
    Ok(())
}

/// A build that cannot even take its first lock (another session holds the
/// table in SHARE UPDATE EXCLUSIVE, as a VACUUM or another build does) gives
/// up having made nothing, and says so; the pool's connections come back
/// without its lock_timeout on this path too.
#[tokio::test]
async fn step2_a_build_that_never_got_its_first_lock_says_nothing_was_left() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let mut holder = lab.connection().await?;
    sqlx::query("BEGIN").execute(&mut holder).await?;
    sqlx::query("LOCK TABLE orders IN SHARE UPDATE EXCLUSIVE MODE")
        .execute(&mut holder)
        .await?;
    let pool = lab.db.new_pool(1).await?;
    let config = BuildConfig {
        attempts: 1,
        ..quick()
    };
    match build(&pool, &latest_orders_index(), &config).await {
        Err(IndexError::LockTimeout { invalid_left, .. }) => assert!(
            !invalid_left,
            "README step 2: no index was made, so none was left"
        ),
        other => panic!("README step 2: expected LockTimeout, got {other:?}"),
    }
    assert!(lab.order_indexes().await?.is_empty());
    assert_pool_has_no_lock_timeout(&pool, "a failed build").await?;
    sqlx::query("COMMIT").execute(&mut holder).await?;
    Ok(())
}

/// A build that times out keeps trying: its next attempt starts by dropping
/// its own INVALID leftover, and once the transaction in its way ends, the
/// build ends valid, within its attempts.
#[tokio::test]
async fn step2_a_build_retries_after_a_lock_timeout_and_ends_valid() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let open = lab.open_writer_transaction().await?;
    let pool = lab.pool().clone();
    let config = BuildConfig {
        lock_timeout: Duration::from_millis(1_500),
        attempts: 400,
        backoff: Duration::from_millis(20),
    };
    let building = tokio::spawn(async move { build(&pool, &latest_orders_index(), &config).await });
    // The first attempt times out waiting; the next one's DROP waits in turn
    // (each for up to 1.5 s, so the writer below meets the DROP still waiting).
    lab.until_waiting_for_a_lock("CREATE INDEX").await?;
    lab.until_waiting_for_a_lock("DROP INDEX").await?;
    // A writer that will not wait for a lock at all (10 ms): behind a plain
    // DROP INDEX queued for ACCESS EXCLUSIVE it would.
    let inserted = lab.insert_within(Duration::from_millis(10)).await?;
    assert!(
        inserted.is_ok(),
        "README step 2: an INSERT waited for the drop of the INVALID leftover ({:?}): a plain \
         DROP INDEX takes ACCESS EXCLUSIVE on the table; drop it CONCURRENTLY too",
        inserted.err()
    );
    commit(open).await?;
    let report = labkit::within(Duration::from_secs(60), "the index build", building).await???;
    assert!(
        report.attempts >= 2,
        "README step 2: expected a retry, got {report:?}"
    );
    assert_eq!(
        report.dropped_invalid, 1,
        "README step 2: the timed-out attempt's INVALID index is dropped before the next: {report:?}"
    );
    assert_eq!(
        lab.index_validity(latest_orders_index().name).await?,
        Some(true)
    );
    assert_eq!(
        lab.order_indexes().await?,
        vec![latest_orders_index().name.to_string()]
    );
    Ok(())
}

/// An INVALID index left by an interrupted build (the test cancels one) is
/// found, dropped and rebuilt valid, under the same name.
#[tokio::test]
async fn step2_an_invalid_index_left_by_a_cancelled_build_is_rebuilt() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let index = latest_orders_index();
    let open = lab.open_writer_transaction().await?;
    let mut builder = lab.connection().await?;
    let sql = format!(
        "CREATE INDEX CONCURRENTLY {} {}",
        index.name, index.definition
    );
    let interrupted = tokio::spawn(async move {
        let result = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut builder)
            .await;
        drop(builder);
        result
    });
    let pid = lab.until_waiting_for_a_lock("CREATE INDEX").await?;
    sqlx::query("SELECT pg_cancel_backend($1)")
        .bind(pid)
        .execute(lab.pool())
        .await?;
    assert!(interrupted.await?.is_err(), "the cancelled build failed");
    commit(open).await?;
    assert_eq!(
        lab.index_validity(index.name).await?,
        Some(false),
        "the leftover is INVALID"
    );

    let report = build(lab.pool(), &index, &patient()).await?;
    assert_eq!(
        lab.index_validity(index.name).await?,
        Some(true),
        "README step 2: an INVALID index is never used by a query; CREATE … IF NOT EXISTS keeps it"
    );
    assert_eq!(report.dropped_invalid, 1, "{report:?}");
    assert_eq!(report.attempts, 1, "{report:?}");
    Ok(())
}

/// A build cancelled by someone else (an operator's pg_cancel_backend, a
/// deadlock) is an error at once: only a lock timeout is retried.
#[tokio::test]
async fn step2_a_cancelled_build_is_an_error_not_a_retry() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let open = lab.open_writer_transaction().await?;
    let pool = lab.pool().clone();
    let config = BuildConfig {
        attempts: 5,
        ..patient()
    };
    let building = tokio::spawn(async move { build(&pool, &latest_orders_index(), &config).await });
    let pid = lab.until_waiting_for_a_lock("CREATE INDEX").await?;
    sqlx::query("SELECT pg_cancel_backend($1)")
        .bind(pid)
        .execute(lab.pool())
        .await?;
    let result = labkit::within(
        Duration::from_secs(10),
        "the cancelled build to return",
        building,
    )
    .await
    .map_err(|e| anyhow::anyhow!("README step 2: {e}: a cancelled build was retried"))??;
    assert!(
        matches!(result, Err(IndexError::Database(_))),
        "README step 2: a cancelled build (57014) is IndexError::Database, never retried as a \
         lock timeout: {result:?}"
    );
    commit(open).await?;
    Ok(())
}

/// A valid index already in place is left alone: nothing dropped, nothing
/// rebuilt, no attempt counted.
#[tokio::test]
async fn step2_a_valid_index_is_left_alone() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let index = latest_orders_index();
    build(lab.pool(), &index, &patient()).await?;
    let first = lab.index_oid(index.name).await?;
    let report = build(lab.pool(), &index, &patient()).await?;
    assert_eq!(
        (report.attempts, report.dropped_invalid),
        (0, 0),
        "{report:?}"
    );
    assert_eq!(
        lab.index_oid(index.name).await?,
        first,
        "README step 2: the valid index was rebuilt"
    );
    Ok(())
}

/// The build's lock_timeout stays with the build: the pool's connections
/// come back without it.
#[tokio::test]
async fn step2_the_lock_timeout_does_not_leak_into_the_pool() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let pool = lab.db.new_pool(1).await?;
    build(&pool, &latest_orders_index(), &patient()).await?;
    assert_pool_has_no_lock_timeout(&pool, "a successful build").await
}

/// The next user of a pool's only connection sees no lock_timeout.
async fn assert_pool_has_no_lock_timeout(pool: &sqlx::PgPool, after: &str) -> anyhow::Result<()> {
    let setting: String = sqlx::query_scalar("SHOW lock_timeout")
        .fetch_one(pool)
        .await?;
    assert_eq!(
        setting, "0",
        "README step 2: after {after} the pool's next user inherits lock_timeout={setting}; \
         CONCURRENTLY cannot run in a transaction, so SET LOCAL is out: use a connection of its \
         own, or RESET"
    );
    Ok(())
}

/// A configuration that cannot work is refused before anything runs:
/// 0 attempts, or a lock_timeout of 0 (which Postgres reads as "wait forever").
#[tokio::test]
async fn step2_a_build_config_that_cannot_work_is_refused() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    for config in [
        BuildConfig {
            attempts: 0,
            ..quick()
        },
        BuildConfig {
            lock_timeout: Duration::ZERO,
            ..quick()
        },
    ] {
        match build(lab.pool(), &latest_orders_index(), &config).await {
            Err(IndexError::InvalidConfig(_)) => {}
            other => panic!("README step 2: {config:?} must be InvalidConfig, got {other:?}"),
        }
    }
    assert!(lab.order_indexes().await?.is_empty(), "nothing was built");
    // An error that is not a lock timeout is not retried, nor called one.
    let broken = slow_query::IndexDef {
        name: "orders_broken",
        definition: "ON orders (no_such_column)",
    };
    match build(lab.pool(), &broken, &quick()).await {
        Err(IndexError::Database(_)) => {}
        other => panic!(
            "README step 2: a definition Postgres rejects is IndexError::Database at once, got {other:?}"
        ),
    }
    let one = BuildConfig {
        attempts: 1,
        ..quick()
    };
    let report = build(lab.pool(), &latest_orders_index(), &one).await?;
    assert_eq!(report.attempts, 1, "one attempt is a valid configuration");
    Ok(())
}
