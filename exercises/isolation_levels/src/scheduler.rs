// PROVIDED: the scheduler that runs your schedules (step 1). You do not need to
// change this file; `lock_wait::waiting_for_lock`, which it calls, is yours.

//! Run numbered statements on two or three sessions, in a fixed order, and
//! record what each one returned, whether it had to wait for a lock, and how it
//! failed.
//!
//! The order is the schedule's, with one rule a real client also obeys: a
//! session whose statement is waiting for a lock sends nothing else until that
//! statement returns, so its later steps queue behind it while the other
//! sessions go on. After every step the scheduler *settles*: it waits until
//! each busy session has either returned or is seen, by your
//! [`crate::lock_wait::waiting_for_lock`], waiting for a lock. No step is ever
//! judged by how long it took; time is only a bound that turns a stuck
//! schedule into an error.
//!
//! After a statement fails, the rest of that session's steps are skipped (on
//! Postgres its transaction is aborted; on MariaDB a deadlock has already rolled
//! it back), and every session is rolled back at the end. The table is
//! `test(id int primary key, value int)` holding (1, 10) and (2, 20).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row};
use tokio::task::JoinHandle;

use crate::db::{Db, DbFailure, Engine, Level};

/// One statement of a schedule, on session 1, 2 or 3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub session: usize,
    pub sql: &'static str,
}

/// The statements of an interleaving, in the order they are sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    pub steps: Vec<Step>,
}

impl Schedule {
    pub fn new() -> Schedule {
        Schedule::default()
    }

    /// Append a statement on `session` (1, 2 or 3).
    pub fn on(mut self, session: usize, sql: &'static str) -> Schedule {
        self.steps.push(Step { session, sql });
        self
    }

    pub fn t1(self, sql: &'static str) -> Schedule {
        self.on(1, sql)
    }

    pub fn t2(self, sql: &'static str) -> Schedule {
        self.on(2, sql)
    }

    pub fn t3(self, sql: &'static str) -> Schedule {
        self.on(3, sql)
    }

    /// How many sessions the schedule uses (the highest session number).
    pub fn sessions(&self) -> usize {
        self.steps.iter().map(|s| s.session).max().unwrap_or(0)
    }
}

/// What one step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepResult {
    /// It returned these rows (empty for a statement that returns none). Every
    /// column is read as an integer; NULL is `None`.
    Rows(Vec<Vec<Option<i64>>>),
    /// It failed.
    Failed(DbFailure),
    /// An earlier statement of its session failed, so it was never sent.
    Skipped,
}

/// One step, as it ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    pub session: usize,
    pub sql: &'static str,
    /// It was seen waiting for a lock another session held before it returned.
    pub blocked: bool,
    pub result: StepResult,
}

/// A whole run: every step in schedule order, and the table afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub engine: Engine,
    pub level: Level,
    pub steps: Vec<StepRecord>,
    /// `SELECT id, value FROM test ORDER BY id` once every session has ended.
    pub final_rows: Vec<(i64, i64)>,
}

impl Run {
    /// The first column of every row step `index` returned; empty if it
    /// failed or was skipped.
    pub fn values(&self, index: usize) -> Vec<i64> {
        match &self.steps[index].result {
            StepResult::Rows(rows) => rows
                .iter()
                .filter_map(|row| row.first().copied().flatten())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Did step `index` run and succeed (a COMMIT that went through, say)?
    pub fn succeeded(&self, index: usize) -> bool {
        matches!(self.steps[index].result, StepResult::Rows(_))
    }

    /// The failure of step `index`, if it failed.
    pub fn failure(&self, index: usize) -> Option<&DbFailure> {
        match &self.steps[index].result {
            StepResult::Failed(failure) => Some(failure),
            _ => None,
        }
    }

    /// `value` of row `id` at the end, if the row exists.
    pub fn final_value(&self, id: i64) -> Option<i64> {
        self.final_rows
            .iter()
            .find(|(row, _)| *row == id)
            .map(|(_, v)| *v)
    }

    /// A readable account of the run, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = format!("{} at {}:\n", self.engine, self.level);
        for (i, step) in self.steps.iter().enumerate() {
            let result = match &step.result {
                StepResult::Rows(rows) if rows.is_empty() => "ok".to_string(),
                StepResult::Rows(rows) => format!("{rows:?}"),
                StepResult::Failed(f) => format!("FAILED: {f}"),
                StepResult::Skipped => "skipped".to_string(),
            };
            let waited = if step.blocked {
                " [waited for a lock]"
            } else {
                ""
            };
            out.push_str(&format!(
                "  {i:>2}. T{}: {:<55} -> {result}{waited}\n",
                step.session, step.sql
            ));
        }
        out.push_str(&format!("  table afterwards: {:?}", self.final_rows));
        out
    }
}

/// Why a schedule could not be run to the end (never an isolation outcome).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("could not set up the sessions on {engine}: {source}")]
    Setup {
        engine: Engine,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "step {step} (T{session}: {sql}) neither returned nor was seen waiting for a lock \
         within {bound:?}; is waiting_for_lock right for {engine}?"
    )]
    Stuck {
        engine: Engine,
        step: usize,
        session: usize,
        sql: &'static str,
        bound: Duration,
    },
    #[error(
        "the schedule ended with T{session} still waiting for a lock at step {step}; add the \
         step that releases it (a COMMIT or ROLLBACK of the session holding it)"
    )]
    EndedWaiting { session: usize, step: usize },
    #[error("asking {engine} whether a session waits for a lock failed: {source}")]
    Probe {
        engine: Engine,
        #[source]
        source: sqlx::Error,
    },
    #[error("schedule step {step} names session {session}; sessions are 1, 2 and 3")]
    BadSession { step: usize, session: usize },
}

/// A session's connection, on either engine.
pub enum Conn {
    Postgres(PgConnection),
    MariaDb(MySqlConnection),
}

impl Conn {
    async fn open(db: &Db) -> Result<Conn, sqlx::Error> {
        Ok(match db {
            Db::Postgres(pool) => Conn::Postgres(pool.acquire().await?.detach()),
            Db::MariaDb(pool) => Conn::MariaDb(pool.acquire().await?.detach()),
        })
    }

    async fn run(&mut self, sql: &'static str) -> Result<Vec<Vec<Option<i64>>>, sqlx::Error> {
        match self {
            Conn::Postgres(c) => {
                let rows = sqlx::raw_sql(sql).fetch_all(&mut *c).await?;
                Ok(rows.iter().map(pg_integers).collect())
            }
            Conn::MariaDb(c) => {
                let rows = sqlx::raw_sql(sql).fetch_all(&mut *c).await?;
                Ok(rows.iter().map(mysql_integers).collect())
            }
        }
    }

    /// This session's id as the engine's views name it: `pg_backend_pid()` on
    /// Postgres, `CONNECTION_ID()` on MariaDB.
    async fn id(&mut self) -> Result<u64, sqlx::Error> {
        match self {
            Conn::Postgres(c) => {
                let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(&mut *c)
                    .await?;
                Ok(pid as u64)
            }
            Conn::MariaDb(c) => {
                sqlx::query_scalar("SELECT CONNECTION_ID()")
                    .fetch_one(&mut *c)
                    .await
            }
        }
    }

    async fn close(self) {
        // Ending the connection ends (rolls back) whatever it still had open.
        let _ = match self {
            Conn::Postgres(c) => c.close().await,
            Conn::MariaDb(c) => c.close().await,
        };
    }
}

fn pg_integers(row: &sqlx::postgres::PgRow) -> Vec<Option<i64>> {
    (0..row.len())
        .map(|i| {
            row.try_get::<Option<i64>, _>(i)
                .or_else(|_| row.try_get::<Option<i32>, _>(i).map(|v| v.map(i64::from)))
                .or_else(|_| row.try_get::<Option<i16>, _>(i).map(|v| v.map(i64::from)))
                .ok()
                .flatten()
        })
        .collect()
}

fn mysql_integers(row: &sqlx::mysql::MySqlRow) -> Vec<Option<i64>> {
    (0..row.len())
        .map(|i| {
            row.try_get::<Option<i64>, _>(i)
                .or_else(|_| row.try_get::<Option<i32>, _>(i).map(|v| v.map(i64::from)))
                .ok()
                .flatten()
        })
        .collect()
}

type Outcome = (Conn, Result<Vec<Vec<Option<i64>>>, sqlx::Error>);

enum State {
    Idle(Conn),
    Busy {
        step: usize,
        task: JoinHandle<Outcome>,
    },
    /// A statement failed: the connection is kept only to be closed.
    Failed(Conn),
    Taken,
}

struct Session {
    id: u64,
    state: State,
    queue: VecDeque<usize>,
}

/// The bound on settling one step: far above any real statement here, and
/// above Postgres's deadlock_timeout (1 s), after which it breaks a deadlock.
pub const SETTLE_BOUND: Duration = Duration::from_secs(10);

/// Run `schedule` at `level` on a fresh `test` table.
pub async fn run(db: &Db, level: Level, schedule: &Schedule) -> Result<Run, ScheduleError> {
    let engine = db.engine();
    let setup = |source| ScheduleError::Setup { engine, source };
    for (step, s) in schedule.steps.iter().enumerate() {
        if !(1..=3).contains(&s.session) {
            return Err(ScheduleError::BadSession {
                step,
                session: s.session,
            });
        }
    }
    reset_table(db).await.map_err(setup)?;

    let mut observer = Conn::open(db).await.map_err(setup)?;
    let mut sessions = Vec::new();
    for _ in 0..schedule.sessions() {
        let mut conn = Conn::open(db).await.map_err(setup)?;
        configure(&mut conn, level).await.map_err(setup)?;
        let id = conn.id().await.map_err(setup)?;
        sessions.push(Session {
            id,
            state: State::Idle(conn),
            queue: VecDeque::new(),
        });
    }

    let mut records: Vec<StepRecord> = schedule
        .steps
        .iter()
        .map(|s| StepRecord {
            session: s.session,
            sql: s.sql,
            blocked: false,
            result: StepResult::Skipped,
        })
        .collect();

    let outcome = drive(engine, schedule, &mut sessions, &mut records, &mut observer).await;

    // Whatever happened, end every session: nothing is left holding locks.
    for session in sessions {
        match session.state {
            State::Idle(conn) | State::Failed(conn) => conn.close().await,
            State::Busy { task, .. } => task.abort(),
            State::Taken => {}
        }
    }
    outcome?;

    let final_rows = read_table(&mut observer).await.map_err(setup)?;
    observer.close().await;
    Ok(Run {
        engine,
        level,
        steps: records,
        final_rows,
    })
}

async fn drive(
    engine: Engine,
    schedule: &Schedule,
    sessions: &mut [Session],
    records: &mut [StepRecord],
    observer: &mut Conn,
) -> Result<(), ScheduleError> {
    for (index, step) in schedule.steps.iter().enumerate() {
        let session = &mut sessions[step.session - 1];
        if matches!(session.state, State::Busy { .. }) {
            // Its client is still waiting on an earlier statement.
            session.queue.push_back(index);
        } else {
            start(schedule, session, index);
        }
        settle(engine, schedule, sessions, records, observer).await?;
    }
    for (i, session) in sessions.iter().enumerate() {
        if let State::Busy { step, .. } = session.state {
            return Err(ScheduleError::EndedWaiting {
                session: i + 1,
                step,
            });
        }
    }
    Ok(())
}

fn start(schedule: &Schedule, session: &mut Session, index: usize) {
    match std::mem::replace(&mut session.state, State::Taken) {
        State::Idle(mut conn) => {
            let sql = schedule.steps[index].sql;
            let task = tokio::spawn(async move {
                let result = conn.run(sql).await;
                (conn, result)
            });
            session.state = State::Busy { step: index, task };
        }
        // After a failure the session sends nothing more: the step is Skipped.
        other => session.state = other,
    }
}

/// Wait until every busy session has returned or is seen waiting for a lock.
async fn settle(
    engine: Engine,
    schedule: &Schedule,
    sessions: &mut [Session],
    records: &mut [StepRecord],
    observer: &mut Conn,
) -> Result<(), ScheduleError> {
    let deadline = Instant::now() + SETTLE_BOUND;
    loop {
        let mut settled = true;
        for session in sessions.iter_mut() {
            let State::Busy { step, task } = &session.state else {
                continue;
            };
            let step = *step;
            if task.is_finished() {
                let State::Busy { task, .. } = std::mem::replace(&mut session.state, State::Taken)
                else {
                    unreachable!("matched Busy above");
                };
                let (conn, result) = task.await.expect("a session task never panics");
                match result {
                    Ok(rows) => {
                        records[step].result = StepResult::Rows(rows);
                        session.state = State::Idle(conn);
                    }
                    Err(e) => {
                        records[step].result = StepResult::Failed(DbFailure::of(&e));
                        session.state = State::Failed(conn);
                    }
                }
                // Its queued statements go now, in order, and settle next round;
                // after a failure they stay Skipped.
                if matches!(session.state, State::Failed(_)) {
                    session.queue.clear();
                } else if let Some(next) = session.queue.pop_front() {
                    start(schedule, session, next);
                }
                settled = false;
                continue;
            }
            let waiting = look(observer, session.id)
                .await
                .map_err(|source| ScheduleError::Probe { engine, source })?;
            if waiting {
                records[step].blocked = true;
            } else {
                settled = false;
            }
        }
        if settled {
            return Ok(());
        }
        if Instant::now() > deadline {
            let (step, session) = sessions
                .iter()
                .enumerate()
                .find_map(|(i, s)| match s.state {
                    State::Busy { step, .. } => Some((step, i + 1)),
                    _ => None,
                })
                .unwrap_or((0, 0));
            return Err(ScheduleError::Stuck {
                engine,
                step,
                session,
                sql: schedule.steps.get(step).map_or("", |s| s.sql),
                bound: SETTLE_BOUND,
            });
        }
        // Not a judgement, only a pause between two looks at the database.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The least time between two looks at MariaDB's lock views. InnoDB serves
/// `information_schema.innodb_trx` and `innodb_lock_waits` from a cache that
/// it refreshes only when nobody has read it for 0.1 s, so a faster poller
/// would keep reading the first answer it got, forever.
pub fn look_interval(engine: Engine) -> Duration {
    match engine {
        Engine::Postgres => Duration::ZERO,
        Engine::MariaDb => Duration::from_millis(120),
    }
}

/// Ask [`crate::lock_wait::waiting_for_lock`], no sooner after the previous
/// look in this process than [`look_interval`] allows. The scheduler and the
/// tests look only through here, so every answer is fresh.
pub async fn look(observer: &mut Conn, session: u64) -> Result<bool, sqlx::Error> {
    static LAST: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    let engine = match observer {
        Conn::Postgres(_) => Engine::Postgres,
        Conn::MariaDb(_) => Engine::MariaDb,
    };
    let gap = look_interval(engine);
    if !gap.is_zero() {
        let last = *LAST
            .lock()
            .expect("never poisoned: nothing panics holding it");
        if let Some(wait) = last.and_then(|t| gap.checked_sub(t.elapsed())) {
            tokio::time::sleep(wait).await;
        }
    }
    let answer = crate::lock_wait::waiting_for_lock(observer, session).await;
    *LAST
        .lock()
        .expect("never poisoned: nothing panics holding it") = Some(Instant::now());
    answer
}

async fn configure(conn: &mut Conn, level: Level) -> Result<(), sqlx::Error> {
    match conn {
        Conn::Postgres(c) => {
            let set = match level {
                Level::ReadUncommitted => {
                    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED"
                }
                Level::ReadCommitted => {
                    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"
                }
                Level::RepeatableRead => {
                    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ"
                }
                Level::Serializable => {
                    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE"
                }
            };
            sqlx::raw_sql(set).execute(&mut *c).await?;
            // A bound, so a schedule that deadlocks itself fails in seconds.
            sqlx::raw_sql("SET lock_timeout = '5s'")
                .execute(&mut *c)
                .await?;
        }
        Conn::MariaDb(c) => {
            let set = match level {
                Level::ReadUncommitted => {
                    "SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED"
                }
                Level::ReadCommitted => "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                Level::RepeatableRead => "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                Level::Serializable => "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            };
            sqlx::raw_sql(set).execute(&mut *c).await?;
            sqlx::raw_sql("SET SESSION innodb_lock_wait_timeout = 5")
                .execute(&mut *c)
                .await?;
        }
    }
    Ok(())
}

async fn reset_table(db: &Db) -> Result<(), sqlx::Error> {
    db.execute("DROP TABLE IF EXISTS test").await?;
    match db.engine() {
        Engine::Postgres => {
            db.execute("CREATE TABLE test (id int PRIMARY KEY, value int)")
                .await?
        }
        Engine::MariaDb => {
            db.execute("CREATE TABLE test (id int PRIMARY KEY, value int) ENGINE = InnoDB")
                .await?
        }
    }
    db.execute("INSERT INTO test (id, value) VALUES (1, 10), (2, 20)")
        .await
}

async fn read_table(conn: &mut Conn) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let rows = conn.run("SELECT id, value FROM test ORDER BY id").await?;
    Ok(rows
        .into_iter()
        .map(|r| (r[0].unwrap_or_default(), r[1].unwrap_or_default()))
        .collect())
}
