// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! Everything the service is configured with.

use std::collections::HashMap;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct AppConfig {
    /// Largest request body accepted; anything larger is a 413.
    pub body_limit: usize,
    /// How long a completed idempotency key is kept (and replayed) before the
    /// reaper removes it.
    pub key_retention: Duration,
    /// How long a request owns its key while working on it. Duplicates during
    /// the lease get 409; after a crash, the lease runs out and a retry resumes.
    pub lease: Duration,
    /// API clients and their active signing secrets (two during a rotation).
    pub clients: HashMap<String, Vec<String>>,
    /// How far a signature's timestamp may be from now, either way.
    pub signature_tolerance: Duration,
    /// The card processor; `None` runs payments without charging (steps 1–3).
    pub processor: Option<ProcessorConfig>,
}

#[derive(Clone, Debug)]
pub struct ProcessorConfig {
    /// e.g. `http://127.0.0.1:4242`; charges are POSTed to `{base_url}/v1/charges`.
    pub base_url: String,
    /// A charge that takes longer is treated as "unknown outcome": the payment
    /// stays where it was and the client is told to retry.
    pub timeout: Duration,
}

impl Default for AppConfig {
    fn default() -> AppConfig {
        AppConfig {
            body_limit: 16 * 1024,
            key_retention: Duration::from_secs(24 * 60 * 60),
            lease: Duration::from_secs(30),
            clients: HashMap::new(),
            signature_tolerance: Duration::from_secs(5 * 60),
            processor: None,
        }
    }
}
