// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! The application around the migration: how it reads a profile, and a
//! workload of writers and readers that runs while the migration does.
//!
//! The statements are written so that one prepared statement works in every
//! phase: writes assign `$1::jsonb` (Postgres turns it into text while the
//! column is `varchar`, and stores it as is once it is `jsonb`), and reads take
//! the row as JSON (`to_jsonb(c)`), whose result type never changes. A real
//! deployment gets the same effect by releasing the application that uses the
//! new column name before the contract step; the point here is that the
//! migration, not the application, is what is being judged.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::schema::MIGRATION;

/// What the application sees when it reads one customer's profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// No such customer.
    NoRow,
    /// Read from the old `varchar` column (before the switch); `None` when the
    /// text is missing or not JSON.
    Old(Option<serde_json::Value>),
    /// Read from the JSONB column (after the switch).
    New(Option<serde_json::Value>),
}

/// Read one profile the way the application does: from the old column until
/// the migration is switched, from the JSONB column afterwards.
pub async fn read_profile(pool: &PgPool, id: i64) -> Result<Read, sqlx::Error> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT to_jsonb(c)::text,
                (SELECT phase FROM migration_progress WHERE name = $2)
         FROM customers c WHERE c.id = $1",
    )
    .bind(id)
    .bind(MIGRATION)
    .fetch_optional(pool)
    .await?;
    let Some((row, phase)) = row else {
        return Ok(Read::NoRow);
    };
    let row: serde_json::Value = serde_json::from_str(&row).unwrap_or_default();
    let switched = matches!(phase.as_deref(), Some("switched" | "contracted"));
    if !switched {
        let text = row["profile"].as_str().unwrap_or_default();
        return Ok(Read::Old(serde_json::from_str(text).ok()));
    }
    // Before the contract the new column is `profile_jsonb`; after it, `profile`.
    let value = match row.get("profile_jsonb") {
        Some(value) => value.clone(),
        None => row["profile"].clone(),
    };
    Ok(Read::New(if value.is_null() { None } else { Some(value) }))
}

/// Options for the workload's connections: named (so lock sampling can find
/// them) and with their own `lock_timeout`, so that a writer stuck behind the
/// migration fails loudly instead of hanging the test.
pub fn workload_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    Ok(options
        .application_name(WORKLOAD_APP)
        .options([("lock_timeout", "2s"), ("statement_timeout", "10s")]))
}

/// `application_name` of every workload connection.
pub const WORKLOAD_APP: &str = "lab-workload";

/// Writers and readers hitting `customers` until stopped, and a sampler of
/// how long any of them waits on a lock.
pub struct Workload {
    stop: Arc<AtomicBool>,
    writers: Vec<tokio::task::JoinHandle<WriterReport>>,
    readers: Vec<tokio::task::JoinHandle<(u64, Vec<String>)>>,
    sampler: tokio::task::JoinHandle<Duration>,
}

struct WriterReport {
    writes: u64,
    errors: Vec<String>,
    latencies: Vec<Duration>,
    last_written: HashMap<i64, serde_json::Value>,
}

/// What the workload saw.
#[derive(Debug, Default)]
pub struct WorkloadReport {
    pub writes: u64,
    pub write_errors: Vec<String>,
    pub reads: u64,
    pub read_errors: Vec<String>,
    /// Longest lock wait of any workload statement seen by sampling `pg_locks`.
    pub max_lock_wait: Duration,
    /// Every write's latency, sorted.
    pub write_latencies: Vec<Duration>,
    /// The last value each written row was given, and acknowledged.
    pub last_written: HashMap<i64, serde_json::Value>,
}

impl WorkloadReport {
    /// The `q`-quantile (0..=1) of write latency.
    pub fn write_latency(&self, q: f64) -> Duration {
        let n = self.write_latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let i = ((n - 1) as f64 * q).round() as usize;
        self.write_latencies[i.min(n - 1)]
    }
}

impl Workload {
    /// Start `writers` writers and `readers` readers on rows `1..=max_id`, each
    /// pausing `pace` between its statements. Writer `w` only writes rows with
    /// `id % writers == w`, so each row's last acknowledged value is known.
    pub async fn start(
        url: &str,
        max_id: i64,
        writers: usize,
        readers: usize,
        pace: Duration,
    ) -> Result<Workload, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections((writers + readers + 1) as u32)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(workload_options(url)?)
            .await?;
        let stop = Arc::new(AtomicBool::new(false));
        let writers_n = writers.max(1) as i64;
        let writers = (0..writers as i64)
            .map(|w| {
                let (pool, stop) = (pool.clone(), stop.clone());
                tokio::spawn(write_loop(pool, stop, w, writers_n, max_id, pace))
            })
            .collect();
        let readers = (0..readers as i64)
            .map(|r| {
                let (pool, stop) = (pool.clone(), stop.clone());
                tokio::spawn(read_loop(pool, stop, r, max_id, pace))
            })
            .collect();
        // The sampler uses its own, unnamed connection.
        let sampler_pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
        let sampler = tokio::spawn(sample_lock_waits(sampler_pool, stop.clone()));
        Ok(Workload {
            stop,
            writers,
            readers,
            sampler,
        })
    }

    /// Stop every task and gather what they saw.
    pub async fn stop(self) -> WorkloadReport {
        self.stop.store(true, Ordering::SeqCst);
        let mut report = WorkloadReport::default();
        for writer in self.writers {
            if let Ok(w) = writer.await {
                report.writes += w.writes;
                report.write_errors.extend(w.errors);
                report.write_latencies.extend(w.latencies);
                report.last_written.extend(w.last_written);
            }
        }
        for reader in self.readers {
            if let Ok((reads, errors)) = reader.await {
                report.reads += reads;
                report.read_errors.extend(errors);
            }
        }
        report.max_lock_wait = self.sampler.await.unwrap_or_default();
        report.write_latencies.sort();
        report
    }
}

/// A small deterministic generator, so runs can be replayed.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

async fn write_loop(
    pool: PgPool,
    stop: Arc<AtomicBool>,
    w: i64,
    writers: i64,
    max_id: i64,
    pace: Duration,
) -> WriterReport {
    let mut report = WriterReport {
        writes: 0,
        errors: Vec::new(),
        latencies: Vec::new(),
        last_written: HashMap::new(),
    };
    let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1);
    let stripe = (max_id / writers).max(1);
    while !stop.load(Ordering::SeqCst) {
        let id = (next(&mut seed) as i64).rem_euclid(stripe) * writers + w + 1;
        if id > max_id {
            continue;
        }
        let value = serde_json::json!({ "id": id, "plan": "workload", "v": report.writes, "w": w });
        let started = Instant::now();
        let result = sqlx::query("UPDATE customers SET profile = $1::jsonb WHERE id = $2")
            .bind(value.to_string())
            .bind(id)
            .execute(&pool)
            .await;
        report.latencies.push(started.elapsed());
        match result {
            Ok(_) => {
                report.writes += 1;
                report.last_written.insert(id, value);
            }
            // A failed write may or may not have been applied: forget what we
            // know of this row, so the lost-update check does not guess.
            Err(e) => {
                report.last_written.remove(&id);
                report.errors.push(format!("UPDATE customers id {id}: {e}"));
            }
        }
        tokio::time::sleep(pace).await;
    }
    report
}

async fn read_loop(
    pool: PgPool,
    stop: Arc<AtomicBool>,
    r: i64,
    max_id: i64,
    pace: Duration,
) -> (u64, Vec<String>) {
    let (mut reads, mut errors) = (0, Vec::new());
    let mut seed = 0xD1B5_4A32_D192_ED03 ^ (r as u64 + 1);
    while !stop.load(Ordering::SeqCst) {
        let id = (next(&mut seed) as i64).rem_euclid(max_id.max(1)) + 1;
        match read_profile(&pool, id).await {
            Ok(_) => reads += 1,
            Err(e) => errors.push(format!("read customers id {id}: {e}")),
        }
        tokio::time::sleep(pace).await;
    }
    (reads, errors)
}

/// Every 10 ms, the longest current lock wait of any workload connection
/// (`pg_locks.waitstart`, Postgres 14+). Returns the longest seen.
async fn sample_lock_waits(pool: PgPool, stop: Arc<AtomicBool>) -> Duration {
    let mut longest = Duration::ZERO;
    while !stop.load(Ordering::SeqCst) {
        let wait: Result<Option<f64>, _> = sqlx::query_scalar(
            "SELECT extract(epoch FROM max(clock_timestamp() - l.waitstart))::float8
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE NOT l.granted AND a.application_name = $1",
        )
        .bind(WORKLOAD_APP)
        .fetch_one(&pool)
        .await;
        if let Ok(Some(seconds)) = wait {
            longest = longest.max(Duration::from_secs_f64(seconds.max(0.0)));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    longest
}
