//! Step 4 — the card processor client.
//!
//! `POST {base_url}/v1/charges` with JSON `{"amount", "currency", "payment"}`
//! and an `Idempotency-Key` header that is the same for every attempt at one
//! payment. The processor answers 200 with `{"id": "ch_…"}`, 402 when the card is
//! declined, or fails (5xx, no answer). Bound the whole exchange by `timeout`.

use std::time::Duration;

use crate::config::ProcessorConfig;

#[derive(Clone, Debug)]
pub struct ProcessorClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChargeError {
    #[error("the card was declined")]
    Declined,
    #[error("the processor failed: {0}")]
    Unavailable(String),
    #[error("the processor did not answer in time")]
    TimedOut,
}

impl ProcessorClient {
    pub fn new(config: &ProcessorConfig) -> ProcessorClient {
        ProcessorClient {
            http: reqwest::Client::new(),
            base_url: config.base_url.trim_end_matches('/').to_string(),
            timeout: config.timeout,
        }
    }

    /// Charge `amount` for `payment_id`; returns the charge id.
    pub async fn charge(
        &self,
        payment_id: &str,
        amount: i64,
        currency: &str,
    ) -> Result<String, ChargeError> {
        // TODO(step 4)
        todo!("step 4: ProcessorClient::charge — see README step 4")
    }
}
