//! The test harness: a fresh database and app per test, signed requests, and
//! facts read straight from the tables.

pub mod processor;
pub mod service;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use idempotent_payments::{AppConfig, AppState, ManualClock};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// The API client most tests act as, and its signing secret.
pub const CLIENT: &str = "client-a";
pub const SECRET: &str = "whsec-a-1";
/// A second client, to show that clients never see each other's keys or payments.
pub const OTHER_CLIENT: &str = "client-b";
pub const OTHER_SECRET: &str = "whsec-b-1";
/// Where every test's clock starts: 2023-11-14, milliseconds since the epoch.
pub const START_MS: i64 = 1_700_000_000_000;

/// The two clients, each with one active secret.
pub fn clients() -> HashMap<String, Vec<String>> {
    HashMap::from([
        (CLIENT.to_string(), vec![SECRET.to_string()]),
        (OTHER_CLIENT.to_string(), vec![OTHER_SECRET.to_string()]),
    ])
}

/// What one signature covers: the README's step-5 fields.
#[derive(Clone, Copy)]
pub struct Signed<'a> {
    pub timestamp: i64,
    pub method: &'a str,
    pub path: &'a str,
    /// The `Idempotency-Key` header, `""` when the request has none.
    pub key: &'a str,
    pub body: &'a [u8],
}

/// HMAC-SHA256 hex of `<t> LF <METHOD> LF <path> LF <key> LF <body>` — the wire
/// format the README specifies, computed here independently of the code under
/// test.
pub fn signature(secret: &str, signed: Signed<'_>) -> String {
    let Signed {
        timestamp,
        method,
        path,
        key,
        body,
    } = signed;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}\n{method}\n{path}\n{key}\n").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The headers that sign a request as `client` with `secret`.
pub fn signed_headers(client: &str, secret: &str, signed: Signed<'_>) -> Vec<(String, String)> {
    vec![
        ("x-client-id".into(), client.into()),
        (
            "lab-signature".into(),
            format!("t={},v1={}", signed.timestamp, signature(secret, signed)),
        ),
    ]
}

/// A payment body.
pub fn payment(amount: i64, source: &str, destination: &str) -> Value {
    json!({ "amount": amount, "currency": "USD", "source": source, "destination": destination, "description": "test" })
}

/// One test's application: its database, clock and router.
pub struct TestApp {
    pub db: labkit::TestDb,
    pub clock: ManualClock,
    pub state: AppState,
    pub router: Router,
}

impl TestApp {
    pub async fn new() -> anyhow::Result<TestApp> {
        TestApp::with_config(|_| {}).await
    }

    /// A fresh database with the schema, and an app with `adjust`ed config.
    pub async fn with_config(adjust: impl FnOnce(&mut AppConfig)) -> anyhow::Result<TestApp> {
        let db = labkit::TestDb::new().await?;
        labkit::within(
            Duration::from_secs(30),
            "migrations",
            idempotent_payments::db::migrate(db.pool()),
        )
        .await??;
        let clock = ManualClock::at_ms(START_MS);
        let mut config = AppConfig {
            clients: clients(),
            ..AppConfig::default()
        };
        adjust(&mut config);
        let state = AppState::new(db.pool().clone(), clock.clone(), config);
        let router = idempotent_payments::router(state.clone());
        Ok(TestApp {
            db,
            clock,
            state,
            router,
        })
    }

    /// An account with an opening balance, written directly (the API does not
    /// open accounts).
    pub async fn account(&self, id: &str, currency: &str, opening: i64) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO accounts (id, currency, opening_balance) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(currency)
            .bind(opening)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Send a request through the router (no socket), signed as `CLIENT` unless
    /// the request says otherwise.
    pub async fn send(&self, request: TestRequest) -> TestResponse {
        let timestamp = request.timestamp.unwrap_or(self.clock_secs());
        let mut builder = Request::builder()
            .method(request.method.as_str())
            .uri(&request.path);
        if let Some((client, secret)) = request.signer {
            let signed = Signed {
                timestamp,
                method: &request.method,
                path: &request.path,
                key: request.key_header().unwrap_or(""),
                body: &request.body,
            };
            for (name, value) in signed_headers(client, secret, signed) {
                builder = builder.header(name, value);
            }
        }
        let has_content_type = request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        if !request.body.is_empty() && !has_content_type {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let http = builder
            .body(Body::from(request.body))
            .expect("a valid request");
        let response = labkit::within(
            Duration::from_secs(20),
            "the API's response",
            self.router.clone().oneshot(http),
        )
        .await
        .expect("the API must answer within 20 s")
        .expect("the router's error type is Infallible");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a readable body")
            .to_bytes()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// `POST /v1/payments` with an `Idempotency-Key`, signed as `CLIENT`.
    pub async fn pay(&self, key: &str, body: &Value) -> TestResponse {
        self.send(TestRequest::post("/v1/payments", body).idempotency_key(key))
            .await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(TestRequest::get(path)).await
    }

    pub fn clock_secs(&self) -> i64 {
        idempotent_payments::Clock::now_ms(&self.clock) / 1000
    }

    /// Rows in a table (the tests read facts, not just responses).
    pub async fn count(&self, table: &str) -> i64 {
        let sql = match table {
            "payments" => "SELECT count(*) FROM payments",
            "ledger_entries" => "SELECT count(*) FROM ledger_entries",
            "idempotency_keys" => "SELECT count(*) FROM idempotency_keys",
            other => panic!("no count for table {other}"),
        };
        sqlx::query_scalar(sql)
            .fetch_one(self.db.pool())
            .await
            .expect("a count")
    }

    /// Rows written by any request, for "nothing was written" checks.
    pub async fn written(&self) -> (i64, i64, i64) {
        (
            self.count("payments").await,
            self.count("ledger_entries").await,
            self.count("idempotency_keys").await,
        )
    }

    /// Opening balance plus entries, straight from the tables.
    pub async fn balance(&self, account: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT a.opening_balance + COALESCE((SELECT SUM(amount) FROM ledger_entries WHERE account_id = a.id), 0)::bigint
             FROM accounts a WHERE a.id = $1",
        )
        .bind(account)
        .fetch_one(self.db.pool())
        .await
        .expect("the account exists")
    }

    /// Sum of every ledger entry: zero in a balanced ledger.
    pub async fn ledger_sum(&self) -> i64 {
        sqlx::query_scalar("SELECT COALESCE(SUM(amount), 0)::bigint FROM ledger_entries")
            .fetch_one(self.db.pool())
            .await
            .expect("a sum")
    }

    /// Sessions on this test's database that are waiting for a lock: how a test
    /// knows that a request has reached a row the test holds.
    pub async fn lock_waiters(&self) -> anyhow::Result<i64> {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(self.db.pool())
        .await?;
        Ok(waiting)
    }

    /// Wait (bounded) until at least `sessions` wait for a lock; fail at once,
    /// with its answer, if `request` ends instead (it was meant to be waiting).
    pub async fn until_lock_waiters(
        &self,
        sessions: i64,
        what: &str,
        request: &mut JoinHandle<TestResponse>,
    ) -> anyhow::Result<()> {
        let waiting = labkit::eventually(Duration::from_secs(10), what, || async {
            Ok(self.lock_waiters().await? >= sessions)
        });
        tokio::select! {
            waited = waiting => waited,
            ended = request => {
                let how = match ended {
                    Ok(response) => format!("answered {} {}", response.status, response.text()),
                    Err(e) => format!("panicked: {e}"),
                };
                anyhow::bail!("waiting for {what}, a request {how} instead")
            }
        }
    }

    /// Payments whose entries do not net to zero or that have no entries at all.
    pub async fn unbalanced_payments(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT p.id FROM payments p LEFT JOIN ledger_entries e ON e.payment_id = p.id
             GROUP BY p.id HAVING count(e.id) = 0 OR SUM(e.amount) <> 0",
        )
        .fetch_all(self.db.pool())
        .await
        .expect("a query")
    }
}

/// `app.pay(key, body)` in a task of its own, for requests that must be in
/// flight together.
pub fn pay_in_background(app: &Arc<TestApp>, key: &str, body: &Value) -> JoinHandle<TestResponse> {
    let (app, key, body) = (Arc::clone(app), key.to_string(), body.clone());
    tokio::spawn(async move { app.pay(&key, &body).await })
}

/// A request the tests build: signed as `CLIENT` by default.
pub struct TestRequest {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub signer: Option<(&'static str, &'static str)>,
    pub timestamp: Option<i64>,
}

impl TestRequest {
    pub fn get(path: &str) -> TestRequest {
        TestRequest {
            method: "GET".into(),
            path: path.into(),
            body: Vec::new(),
            headers: Vec::new(),
            signer: Some((CLIENT, SECRET)),
            timestamp: None,
        }
    }

    pub fn post(path: &str, body: &Value) -> TestRequest {
        TestRequest::post_raw(path, body.to_string().into_bytes())
    }

    pub fn post_raw(path: &str, body: Vec<u8>) -> TestRequest {
        TestRequest {
            method: "POST".into(),
            path: path.into(),
            body,
            headers: Vec::new(),
            signer: Some((CLIENT, SECRET)),
            timestamp: None,
        }
    }

    pub fn idempotency_key(self, key: &str) -> TestRequest {
        self.header("idempotency-key", key)
    }

    /// The first `Idempotency-Key` header, as the service reads it.
    fn key_header(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("idempotency-key"))
            .map(|(_, v)| v.as_str())
    }

    pub fn header(mut self, name: &str, value: &str) -> TestRequest {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn signed_by(mut self, client: &'static str, secret: &'static str) -> TestRequest {
        self.signer = Some((client, secret));
        self
    }

    pub fn unsigned(mut self) -> TestRequest {
        self.signer = None;
        self
    }

    pub fn at(mut self, timestamp: i64) -> TestRequest {
        self.timestamp = Some(timestamp);
        self
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A 409 `request-in-progress`: the key is held by a request still
    /// working, and the client is told when to come back (Retry-After, in
    /// whole seconds, at least 1). `why` says which README promise it is.
    pub fn assert_in_progress(&self, why: &str) {
        assert_eq!(self.status, 409, "{why}: {}", self.text());
        assert_eq!(self.problem_type(), "/problems/request-in-progress");
        let retry_after: u64 = self
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .expect("409 carries Retry-After in seconds");
        assert!(retry_after >= 1, "Retry-After is at least 1 s");
    }

    /// The problem+json `type`, after checking the content type says so.
    pub fn problem_type(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "errors are RFC 9457 problem+json (README step 1): {self:?}"
        );
        let problem = self.json();
        assert_eq!(
            problem["status"], self.status,
            "the problem's status matches the response's: {problem}"
        );
        problem["type"].as_str().unwrap_or_default().to_string()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
