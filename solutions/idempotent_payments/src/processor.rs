//! Step 4 — the card processor, called with an idempotency key of our own.
//!
//! A charge is a side effect in someone else's system: after a crash we cannot
//! know whether it happened. So every charge for a payment carries the same
//! `Idempotency-Key` (the payment's id), and the processor answers a repeat with
//! the charge it already made. That turns "did we charge?" into "charge again,
//! safely". Without the key, a retry after a crash charges the card twice.
//!
//! Outcomes are sorted by what the caller may do next:
//! * a charge id: record it and finish;
//! * declined: final — reverse the ledger movement and answer 402;
//! * unavailable or timed out: unknown — leave the payment where it is and let
//!   the client retry with the same key; the retry charges again, idempotently.

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

    /// Charge `amount` for `payment_id`; the same payment always sends the same key.
    pub async fn charge(
        &self,
        payment_id: &str,
        amount: i64,
        currency: &str,
    ) -> Result<String, ChargeError> {
        let request = self
            .http
            .post(format!("{}/v1/charges", self.base_url))
            .header("Idempotency-Key", payment_id)
            .json(&serde_json::json!({ "amount": amount, "currency": currency, "payment": payment_id }))
            .send();
        // The whole exchange is bounded, body included: a processor that sends
        // headers and then stalls is as unknown as one that says nothing.
        let exchange = async {
            let response = request
                .await
                .map_err(|e| ChargeError::Unavailable(e.to_string()))?;
            let status = response.status();
            if status.as_u16() == 402 {
                return Err(ChargeError::Declined);
            }
            if !status.is_success() {
                return Err(ChargeError::Unavailable(format!("HTTP {status}")));
            }
            let body: serde_json::Value = response
                .json()
                .await
                .map_err(|e| ChargeError::Unavailable(e.to_string()))?;
            body.get("id")
                .and_then(|id| id.as_str())
                .map(str::to_string)
                .ok_or_else(|| ChargeError::Unavailable("the charge has no id".into()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(ChargeError::TimedOut))
    }
}
