//! labkit against real services: resolution, isolation, faults, Kafka smoke.
//!
//! These need Postgres, Redis and Kafka (from `LAB_*` variables or Docker), like
//! every exercise that uses them. The "nothing reachable" tests need nothing.

use std::net::TcpListener as StdListener;
use std::time::{Duration, Instant};

use anyhow::Context;
use labkit::docker::DockerHost;
use labkit::service::{Origin, Resolver, Service, Sources};
use labkit::{FaultProxy, TestDb, TestKafka, TestRedis};

/// A loopback port with nothing listening on it.
fn dead_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// A Docker socket path that does not exist.
fn no_docker() -> DockerHost {
    DockerHost::Unix(std::env::temp_dir().join("labkit-no-docker-here/docker.sock"))
}

/// No variable, no lab services, and every default port pointed at a dead one,
/// so "nothing reachable" holds whatever runs on this machine.
fn nothing_configured() -> Sources {
    let mut sources = Sources::new(|_| None);
    for service in Service::ALL {
        sources = sources.with_default_addr(service, format!("127.0.0.1:{}", dead_port()));
    }
    sources
}

/// With no variable, no lab services, nothing on the default port and no Docker,
/// every service fails in well under five seconds, and the message names its
/// variable, `cargo lab services up` and Docker.
#[tokio::test]
async fn with_nothing_reachable_each_service_fails_fast_naming_every_way_out() {
    for service in Service::ALL {
        let resolver = Resolver::with_sources(nothing_configured(), no_docker());
        let started = Instant::now();
        let err = resolver.resolve(service).await.unwrap_err().to_string();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{service}: {:?}",
            started.elapsed()
        );
        assert!(err.contains(service.env_vars()[0]), "{service}: {err}");
        assert!(err.contains("cargo lab services up"), "{service}: {err}");
        assert!(err.contains("Docker"), "{service}: {err}");
    }
}

/// With nothing configured, a server on the default port is used and the
/// endpoint says so; Docker is never asked.
#[tokio::test]
async fn a_server_on_the_default_port_is_used_when_nothing_is_configured() {
    let listener = StdListener::bind("127.0.0.1:0").expect("a free loopback port");
    let addr = listener.local_addr().expect("bound").to_string();
    let sources = nothing_configured().with_default_addr(Service::Kafka, addr.clone());
    let endpoint = Resolver::with_sources(sources, no_docker())
        .resolve(Service::Kafka)
        .await
        .unwrap();
    assert_eq!(endpoint.url, addr);
    assert_eq!(endpoint.origin, Origin::DefaultPort);
    assert!(
        endpoint
            .describe()
            .ends_with("(found listening on the default port)"),
        "{}",
        endpoint.describe()
    );
}

/// A set variable pointing at a dead address fails within five seconds when the
/// test connects, naming the variable and `cargo lab services up` as the way out.
#[tokio::test]
async fn a_variable_pointing_at_nothing_fails_fast_naming_the_variable_and_docker() {
    let port = dead_port();
    let env = move |var: &str| match var {
        "LAB_REDIS_URL" => Some(format!("redis://127.0.0.1:{port}")),
        "LAB_POSTGRES_URL" => Some(format!("postgres://postgres@127.0.0.1:{port}/postgres")),
        "LAB_KAFKA_BROKERS" => Some(format!("127.0.0.1:{port}")),
        _ => None,
    };
    let resolver = Resolver::new(env, no_docker());

    let started = Instant::now();
    let endpoint = resolver.resolve(Service::Redis).await.unwrap();
    let err = format!(
        "{:#}",
        TestRedis::at(endpoint)
            .await
            .err()
            .expect("Redis on a dead port must fail")
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "Redis took {:?}",
        started.elapsed()
    );
    assert!(
        err.contains("LAB_REDIS_URL") && err.contains("cargo lab services up"),
        "{err}"
    );

    let started = Instant::now();
    let endpoint = resolver.resolve(Service::Postgres).await.unwrap();
    let err = format!(
        "{:#}",
        TestDb::create_on(endpoint)
            .await
            .err()
            .expect("Postgres on a dead port must fail")
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "Postgres took {:?}",
        started.elapsed()
    );
    assert!(
        err.contains("LAB_POSTGRES_URL") && err.contains("cargo lab services up"),
        "{err}"
    );

    let started = Instant::now();
    let endpoint = resolver.resolve(Service::Kafka).await.unwrap();
    let err = format!(
        "{:#}",
        TestKafka::at(endpoint)
            .await
            .err()
            .expect("Kafka on a dead port must fail")
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "Kafka took {:?}",
        started.elapsed()
    );
    assert!(
        err.contains("LAB_KAFKA_BROKERS") && err.contains("cargo lab services up"),
        "{err}"
    );
}

/// A URL from the environment is used without ever pinging Docker, even when the
/// Docker socket would hang.
#[tokio::test]
async fn an_environment_url_is_used_without_touching_docker() {
    let dir = std::env::temp_dir().join(format!("labkit-silent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("docker.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let _silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let resolver = Resolver::new(
        |var: &str| (var == "LAB_REDIS_URL").then(|| "redis://10.1.2.3:6379".to_string()),
        DockerHost::Unix(path),
    )
    .with_ping_timeout(Duration::from_secs(30));
    let started = Instant::now();
    let endpoint = resolver.resolve(Service::Redis).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(endpoint.url, "redis://10.1.2.3:6379");
    assert_eq!(endpoint.origin, Origin::Env("LAB_REDIS_URL"));
}

/// Two tests' databases are separate: the same table name holds different rows,
/// created concurrently.
#[tokio::test]
async fn parallel_databases_never_see_each_others_rows() -> anyhow::Result<()> {
    async fn write_and_read(tag: &'static str) -> anyhow::Result<(TestDb, Vec<String>)> {
        let db = TestDb::new().await?;
        sqlx::query("CREATE TABLE notes (body text NOT NULL)")
            .execute(db.pool())
            .await?;
        sqlx::query("INSERT INTO notes VALUES ($1)")
            .bind(tag)
            .execute(db.pool())
            .await?;
        let rows: Vec<(String,)> = sqlx::query_as("SELECT body FROM notes")
            .fetch_all(db.pool())
            .await?;
        Ok((db, rows.into_iter().map(|r| r.0).collect()))
    }
    let (a, b) = tokio::try_join!(write_and_read("a"), write_and_read("b"))?;
    assert_ne!(a.0.name(), b.0.name());
    assert_eq!(a.1, vec!["a"]);
    assert_eq!(b.1, vec!["b"]);
    Ok(())
}

/// A passing test's database is dropped when its TestDb is.
#[tokio::test]
async fn a_test_database_is_dropped_after_use() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let name = db.name().to_string();
    let admin = sqlx::PgPool::connect(&db.endpoint().url).await?;
    drop(db);
    let (exists,): (bool,) =
        sqlx::query_as("SELECT exists(SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&admin)
            .await?;
    assert!(!exists, "database {name} should have been dropped");
    Ok(())
}

/// Two tests' Redis prefixes are separate, and a passing test's keys are deleted.
#[tokio::test]
async fn parallel_redis_prefixes_never_see_each_others_keys() -> anyhow::Result<()> {
    use redis::AsyncCommands;
    let (a, b) = tokio::try_join!(TestRedis::new(), TestRedis::new())?;
    assert_ne!(a.prefix(), b.prefix());
    let (mut ca, mut cb) = (a.connection().await?, b.connection().await?);
    let _: () = ca.set(a.key("counter"), "a").await?;
    let _: () = cb.set(b.key("counter"), "b").await?;
    let va: String = ca.get(a.key("counter")).await?;
    let vb: String = cb.get(b.key("counter")).await?;
    assert_eq!((va.as_str(), vb.as_str()), ("a", "b"));

    let key = a.key("counter");
    drop(a);
    let left: bool = cb.exists(&key).await?;
    assert!(!left, "{key} should have been deleted with its TestRedis");
    Ok(())
}

/// Cutting the proxy makes a Redis command fail within its timeout; restoring it
/// makes commands succeed again on the same connection manager.
#[tokio::test]
async fn a_cut_proxy_fails_redis_calls_quickly_and_restore_heals_them() -> anyhow::Result<()> {
    let redis = TestRedis::new().await?;
    let proxy = FaultProxy::for_url(redis.url()).await?;
    let mut conn = labkit::redis::connect(proxy.url()).await?;
    let key = redis.key("k");
    redis::cmd("SET")
        .arg(&key)
        .arg(1)
        .query_async::<()>(&mut conn)
        .await?;

    proxy.cut();
    let started = Instant::now();
    let during: redis::RedisResult<i64> = labkit::within(
        Duration::from_secs(6),
        "a GET through a cut proxy",
        redis::cmd("GET").arg(&key).query_async(&mut conn),
    )
    .await?;
    assert!(
        during.is_err(),
        "a command through a cut link must fail, got {during:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(6));

    proxy.restore();
    labkit::eventually(
        Duration::from_secs(10),
        "Redis through the restored proxy",
        || {
            let mut conn = conn.clone();
            let key = key.clone();
            async move {
                Ok(redis::cmd("GET")
                    .arg(&key)
                    .query_async::<i64>(&mut conn)
                    .await
                    .ok()
                    == Some(1))
            }
        },
    )
    .await?;
    assert!(
        proxy.connections_accepted() >= 2,
        "the client must have reconnected"
    );
    Ok(())
}

/// Postgres through a stalled proxy: the pool's acquire timeout bounds the wait.
#[tokio::test]
async fn a_stalled_proxy_bounds_postgres_waits_by_the_clients_timeout() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let proxy = FaultProxy::for_url(db.url()).await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(500))
        .connect(proxy.url())
        .await?;
    sqlx::query("SELECT 1").execute(&pool).await?;
    proxy.stall();
    let result = labkit::within(
        Duration::from_secs(5),
        "a query through a stalled proxy",
        tokio::time::timeout(
            Duration::from_millis(800),
            sqlx::query("SELECT 1").execute(&pool),
        ),
    )
    .await?;
    assert!(
        !matches!(result, Ok(Ok(_))),
        "a query through a black hole must not succeed, got {result:?}"
    );
    proxy.restore();
    drop(pool);
    Ok(())
}

/// Kafka smoke test: topic per test, produce, consume in a group, commit, and read
/// the committed offsets back through the client API.
#[tokio::test]
async fn kafka_topic_produce_consume_and_commit() -> anyhow::Result<()> {
    use rdkafka::Message;
    use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let kafka = TestKafka::new().await?;
    let topic = kafka.create_topic("smoke", 2).await?;
    let group = kafka.group_id("smoke");

    let producer: FutureProducer = kafka
        .client_config()
        .set("enable.idempotence", "true")
        .create()?;
    let mut produced_per_partition = [0i64; 2];
    for i in 0..6 {
        let (payload, key) = (format!("m{i}"), format!("k{i}"));
        let delivery = producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&payload),
                Duration::from_secs(5),
            )
            .await
            .map_err(|(e, _)| e)
            .with_context(|| format!("producing {payload}"))?;
        produced_per_partition[delivery.partition as usize] += 1;
    }

    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()?;
    consumer.subscribe(&[&topic])?;
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let message = labkit::within(
            Duration::from_secs(20),
            format!("a message on {topic}"),
            consumer.recv(),
        )
        .await??;
        seen.push(String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned());
        consumer.commit_message(&message, CommitMode::Sync)?;
    }
    seen.sort();
    assert_eq!(seen, vec!["m0", "m1", "m2", "m3", "m4", "m5"]);

    // A committed offset is the next offset to read: the message count per
    // partition, as recorded from the producer's delivery reports.
    let committed = kafka.committed_offsets(&group, &topic, 2).await?;
    let expected: Vec<Option<i64>> = produced_per_partition
        .iter()
        .map(|&n| (n > 0).then_some(n))
        .collect();
    assert_eq!(committed, expected);
    Ok(())
}

/// Two tests' Kafka names are separate, so their topics and groups never mix.
#[tokio::test]
async fn parallel_kafka_tests_get_separate_topics_and_groups() -> anyhow::Result<()> {
    let (a, b) = tokio::try_join!(TestKafka::new(), TestKafka::new())?;
    assert_ne!(a.topic_name("orders"), b.topic_name("orders"));
    assert_ne!(a.group_id("g"), b.group_id("g"));
    let (ta, tb) = tokio::try_join!(a.create_topic("orders", 1), b.create_topic("orders", 1))?;
    assert_ne!(ta, tb);
    Ok(())
}

/// A Postgres on the default port that asks for a password stops resolution
/// with an error naming LAB_POSTGRES_URL: it never falls through to Docker.
#[tokio::test]
async fn a_default_port_postgres_wanting_a_password_fails_naming_the_variable() {
    use std::io::{Read, Write};
    let listener = StdListener::bind("127.0.0.1:0").expect("a free loopback port");
    let addr = listener.local_addr().expect("bound").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut startup = [0u8; 256];
            let _ = stream.read(&mut startup);
            // AuthenticationSASL offering SCRAM-SHA-256: a password is required.
            let _ = stream.write_all(b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0");
        }
    });
    let sources = nothing_configured().with_default_addr(Service::Postgres, addr.clone());
    let err = Resolver::with_sources(sources, no_docker())
        .resolve(Service::Postgres)
        .await
        .expect_err("a password-protected default Postgres is not usable as is")
        .to_string();
    assert!(err.contains("LAB_POSTGRES_URL"), "{err}");
    assert!(err.contains(&addr), "{err}");
    assert!(
        !err.contains("no Postgres for this test"),
        "fell through: {err}"
    );
}

/// A MariaDB test database exists while the test runs, is its own (tables of
/// one are invisible to another), and is dropped after a passing test.
#[cfg(feature = "mysql")]
#[tokio::test]
async fn a_mariadb_test_database_is_private_and_dropped_after_use() -> anyhow::Result<()> {
    use labkit::TestMyDb;
    let (first, second) = (TestMyDb::new().await?, TestMyDb::new().await?);
    sqlx::query("CREATE TABLE mine (id int PRIMARY KEY)")
        .execute(first.pool())
        .await?;
    let seen: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'mine'",
    )
    .fetch_one(second.pool())
    .await?;
    assert_eq!(
        seen, 0,
        "the second database must not see the first's table"
    );
    let name = first.name().to_string();
    let admin = second.new_pool(1).await?;
    drop(first);
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?",
    )
    .bind(&name)
    .fetch_one(&admin)
    .await?;
    assert_eq!(
        left, 0,
        "{name} should have been dropped when its TestMyDb was"
    );
    Ok(())
}

/// A template asked for by many tests at once is seeded once, complete, and
/// each copy is the test's own; a new version of the family replaces the old.
#[tokio::test]
async fn a_template_is_seeded_once_and_every_copy_is_private() -> anyhow::Result<()> {
    let family = format!("labkit_tpl_{}", labkit::unique::random() % 1_000_000);
    let seeds = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ask = |version: &'static str| {
        let (family, seeds) = (family.clone(), seeds.clone());
        async move {
            labkit::postgres::ensure_template(&family, version, Duration::from_secs(30), |pool| {
                let seeds = seeds.clone();
                async move {
                    seeds.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    sqlx::query("CREATE TABLE t AS SELECT generate_series(1, 1000) AS n")
                        .execute(&pool)
                        .await?;
                    Ok(())
                }
            })
            .await
        }
    };
    let names = futures_join_all(vec![ask("v1"), ask("v1"), ask("v1")]).await?;
    assert!(
        names.iter().all(|n| *n == format!("{family}_v1")),
        "{names:?}"
    );
    assert_eq!(
        seeds.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "seeded more than once"
    );

    let a = TestDb::from_template(&names[0]).await?;
    let b = TestDb::from_template(&names[0]).await?;
    sqlx::query("DELETE FROM t").execute(a.pool()).await?;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(b.pool())
        .await?;
    assert_eq!(left, 1000, "a change to one copy showed in another");

    let v2 = ask("v2").await?;
    let admin = TestDb::new().await?;
    let family_left: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname",
    )
    .bind(format!("{family}%"))
    .fetch_all(admin.pool())
    .await?;
    assert_eq!(
        family_left,
        vec![v2.clone()],
        "the older version was not dropped"
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {v2}")))
        .execute(admin.pool())
        .await?;
    Ok(())
}

/// Await every future, in order, or the first error.
async fn futures_join_all<T>(
    futures: Vec<impl std::future::Future<Output = anyhow::Result<T>> + Send + 'static>,
) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await??);
    }
    Ok(out)
}
