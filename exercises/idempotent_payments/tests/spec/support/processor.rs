//! A fake card processor the tests start and steer.
//!
//! It behaves like a real one where it matters: it honours `Idempotency-Key`
//! (the same key returns the same charge, never a second one) and counts every
//! distinct charge it made, which is what "charged exactly once" is checked
//! against. The test decides what happens next: charge, fail (500), decline
//! (402), answer "not now" (409, 429), or hang before or after charging until
//! released — the last two let a test crash the payment service at a precise
//! point.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use idempotent_payments::ProcessorConfig;
use serde_json::{Value, json};
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Charge,
    Fail,
    Decline,
    /// Answer this status without charging: a 409 (a charge with this key is
    /// still in progress) or a 429 (rate limited) says "not now", not "no".
    Refuse(u16),
    /// Wait for `release()`, then charge and answer.
    HangBeforeCharging,
    /// Charge, then wait for `release()` before answering.
    HangAfterCharging,
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    /// Charges by idempotency key (or a fresh id when a call has none).
    charges: Mutex<HashMap<String, String>>,
    calls: AtomicU64,
    keys_seen: Mutex<Vec<Option<String>>>,
    hanging: AtomicU64,
    released: watch::Sender<bool>,
}

pub struct FakeProcessor {
    server: labkit::http::TestServer,
    shared: Arc<Shared>,
}

impl FakeProcessor {
    pub async fn start(behaviour: Behaviour) -> anyhow::Result<FakeProcessor> {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            charges: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
            keys_seen: Mutex::new(Vec::new()),
            hanging: AtomicU64::new(0),
            released: watch::channel(false).0,
        });
        let router = axum::Router::new()
            .route("/v1/charges", post(charge))
            .with_state(shared.clone());
        let server = labkit::http::TestServer::start(router).await?;
        Ok(FakeProcessor { server, shared })
    }

    /// A config pointing the service at this processor.
    pub fn config(&self, timeout: Duration) -> ProcessorConfig {
        ProcessorConfig {
            base_url: format!("http://{}", self.server.addr()),
            timeout,
        }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().expect("not poisoned") = behaviour;
    }

    /// Distinct charges made: what the cardholder would see on their statement.
    pub fn charges(&self) -> usize {
        self.shared.charges.lock().expect("not poisoned").len()
    }

    pub fn calls(&self) -> u64 {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// The `Idempotency-Key` header of every call, in order.
    pub fn keys_seen(&self) -> Vec<Option<String>> {
        self.shared.keys_seen.lock().expect("not poisoned").clone()
    }

    /// Wait (bounded) until a call is hanging.
    pub async fn wait_until_hanging(&self) -> anyhow::Result<()> {
        labkit::eventually(
            Duration::from_secs(10),
            "a charge request to reach the processor",
            || async { Ok(self.shared.hanging.load(Ordering::SeqCst) > 0) },
        )
        .await
    }

    /// Let hanging calls finish (they answer whoever is still listening).
    pub fn release(&self) {
        self.shared.released.send_replace(true);
    }
}

async fn charge(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    shared
        .keys_seen
        .lock()
        .expect("not poisoned")
        .push(key.clone());
    let behaviour = *shared.behaviour.lock().expect("not poisoned");
    match behaviour {
        Behaviour::Fail => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": "processor_error"})),
            );
        }
        Behaviour::Decline => {
            return (
                StatusCode::PAYMENT_REQUIRED,
                Json(json!({"error": "card_declined"})),
            );
        }
        Behaviour::Refuse(status) => {
            return (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                Json(json!({"error": "try_again_later"})),
            );
        }
        Behaviour::HangBeforeCharging => hang(&shared).await,
        Behaviour::Charge | Behaviour::HangAfterCharging => {}
    }
    let id = {
        let mut charges = shared.charges.lock().expect("not poisoned");
        let fresh = format!("ch_{}", charges.len() + 1);
        // No key, no memory: every call without one is a new charge.
        let slot = key.unwrap_or_else(|| format!("no-key-{fresh}"));
        charges.entry(slot).or_insert(fresh).clone()
    };
    if behaviour == Behaviour::HangAfterCharging {
        hang(&shared).await;
    }
    (
        StatusCode::OK,
        Json(json!({ "id": id, "amount": body["amount"], "payment": body["payment"] })),
    )
}

async fn hang(shared: &Shared) {
    shared.hanging.fetch_add(1, Ordering::SeqCst);
    let mut released = shared.released.subscribe();
    // Bounded even here: a forgotten release must not outlive the test by much.
    let _ = tokio::time::timeout(Duration::from_secs(60), released.wait_for(|r| *r)).await;
}

/// The service's processor timeout in the crash tests: long enough that the
/// service is still waiting when the test kills it, and longer than any test
/// waits.
pub const PATIENT: Duration = Duration::from_secs(30);

/// The app charging through `processor` with `timeout`, with 100,000 in
/// acct_alice and an empty acct_bob.
pub async fn app_with(
    processor: &FakeProcessor,
    timeout: Duration,
) -> anyhow::Result<super::TestApp> {
    let config = processor.config(timeout);
    let app = super::TestApp::with_config(move |c| c.processor = Some(config)).await?;
    app.account("acct_alice", "USD", 100_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    Ok(app)
}
