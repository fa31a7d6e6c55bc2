//! What do the index and the keyset buy? Benchmarked, never asserted.
//!
//! ```text
//! cargo bench -p slow_query_solution --features bench
//! LAB_SCALE=10 cargo bench -p slow_query_solution --features bench
//! ```
//!
//! `latest_ten/<index>/<customer>`: the question's query for the whale and
//! for a regular customer (777), first on the table as seeded (primary key
//! only), then with `latest_orders_index()`. `page/<how>/<n>`: page 1 and page
//! 1,000 (rows 9,991 to 10,000) of the whale, by keyset (`next_page_sql`) and
//! by OFFSET (the provided `offset.rs`), with `list_view_index()`. Each case
//! runs on one connection of one Postgres, in one run. Afterwards, printed:
//! p50 and p99 over 200 more executions of each case, beside the pages each
//! one touched (`EXPLAIN (ANALYZE, BUFFERS)`): the figure that is the same on
//! every machine.

#[path = "../tests/spec/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use slow_query::offset::OFFSET_PAGE_SQL;
use slow_query::{
    Param, first_page_sql, latest_orders_index, list_view_index, next_page_sql, schema,
};
use sqlx::PgPool;

/// One case: a statement and its parameters.
struct Case {
    name: String,
    sql: &'static str,
    params: Vec<Param>,
}

async fn run(pool: &PgPool, case: &Case) {
    let mut query = sqlx::query(case.sql);
    for p in &case.params {
        query = match p {
            Param::BigInt(n) => query.bind(*n),
            Param::Text(s) => query.bind(s.clone()),
        };
    }
    query.fetch_all(pool).await.expect("a bench query");
}

/// p50 and p99 of 200 executions, and the pages of one.
async fn figures(lab: &support::Lab, case: &Case) -> (Duration, Duration, u64) {
    let mut times = Vec::with_capacity(200);
    for _ in 0..200 {
        let started = Instant::now();
        run(lab.pool(), case).await;
        times.push(started.elapsed());
    }
    times.sort();
    let pages = lab
        .plan(case.sql, &case.params)
        .await
        .expect("a plan")
        .blocks();
    (times[99], times[197], pages)
}

fn bench_cases(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    lab: &support::Lab,
    group: &str,
    cases: &[Case],
    table: &mut Vec<String>,
) {
    let mut g = c.benchmark_group(group);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for case in cases {
        g.bench_function(&case.name, |b| {
            b.to_async(runtime).iter(|| run(lab.pool(), case));
        });
    }
    g.finish();
    for case in cases {
        let (p50, p99, pages) = runtime.block_on(figures(lab, case));
        table.push(format!(
            "{group}/{:<24} p50 {:>9.3} ms   p99 {:>9.3} ms   {pages:>6} pages",
            case.name,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        ));
    }
}

fn latest(index: &str) -> Vec<Case> {
    [("whale", schema::WHALE), ("regular", 777)]
        .into_iter()
        .map(|(who, id)| Case {
            name: format!("{index}/{who}"),
            sql: schema::LATEST_ORDERS_SQL,
            params: vec![Param::BigInt(id)],
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a Tokio runtime");
    let lab = runtime
        .block_on(support::Lab::seeded())
        .expect("a seeded database");
    let mut table = Vec::new();

    bench_cases(
        c,
        &runtime,
        &lab,
        "latest_ten",
        &latest("no_index"),
        &mut table,
    );
    runtime
        .block_on(lab.create_index(&latest_orders_index()))
        .expect("the index");
    runtime.block_on(lab.vacuum()).expect("vacuum");
    bench_cases(
        c,
        &runtime,
        &lab,
        "latest_ten",
        &latest("index"),
        &mut table,
    );

    runtime
        .block_on(lab.create_index(&list_view_index()))
        .expect("the list index");
    runtime.block_on(lab.vacuum()).expect("vacuum");
    let (micros, id): (i64, i64) = runtime
        .block_on(
            sqlx::query_as(
                "SELECT (extract(epoch FROM created_at) * 1000000)::bigint, id FROM orders
                  WHERE customer_id = $1 ORDER BY created_at DESC, id DESC OFFSET 9989 LIMIT 1",
            )
            .bind(schema::WHALE)
            .fetch_one(lab.pool()),
        )
        .expect("the position of page 1,000");
    let whale = Param::BigInt(schema::WHALE);
    let pages = [
        Case {
            name: "keyset/1".into(),
            sql: first_page_sql(),
            params: vec![whale.clone(), Param::BigInt(11)],
        },
        Case {
            name: "keyset/1000".into(),
            sql: next_page_sql(),
            params: vec![
                whale.clone(),
                Param::BigInt(micros),
                Param::BigInt(id),
                Param::BigInt(11),
            ],
        },
        Case {
            name: "offset/1".into(),
            sql: OFFSET_PAGE_SQL,
            params: vec![whale.clone(), Param::BigInt(10), Param::BigInt(0)],
        },
        Case {
            name: "offset/1000".into(),
            sql: OFFSET_PAGE_SQL,
            params: vec![whale, Param::BigInt(10), Param::BigInt(9_990)],
        },
    ];
    bench_cases(c, &runtime, &lab, "page", &pages, &mut table);

    let scale = schema::scale().unwrap_or(1);
    println!(
        "\nslow_query at LAB_SCALE={scale} ({} rows), one Postgres, one run:",
        schema::DEFAULT_ROWS * scale
    );
    for line in table {
        println!("  {line}");
    }
}

criterion_group!(all, benches);
criterion_main!(all);
