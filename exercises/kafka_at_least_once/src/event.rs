// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! The order event on the wire (provided).
//!
//! JSON, one event per Kafka record, keyed by `order_id` so every event of an
//! order lands on the same partition and is seen in the order it was produced.
//! `decode` is strict on purpose: anything it refuses is a *poison message*
//! (README step 5), which must be dead-lettered, never retried forever and
//! never silently dropped.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The order is placed: the customer's total grows by `amount_cents`.
    Placed,
    /// The order is cancelled: the customer's total shrinks by `amount_cents`.
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// Unique per event, and the same on every redelivery or producer retry of
    /// it: this is the key the consumer deduplicates on.
    pub event_id: String,
    pub order_id: String,
    pub customer: String,
    pub amount_cents: i64,
    pub kind: EventKind,
}

/// Why a record is not an event. The text goes into the dead letter's
/// `lab.error` header.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoisonReason {
    #[error("the record has no payload")]
    Empty,
    #[error("the payload is not an order event: {0}")]
    Malformed(String),
    #[error("the event is invalid: {0}")]
    Invalid(&'static str),
}

impl OrderEvent {
    pub fn placed(event_id: &str, order_id: &str, customer: &str, amount_cents: i64) -> Self {
        OrderEvent {
            event_id: event_id.to_owned(),
            order_id: order_id.to_owned(),
            customer: customer.to_owned(),
            amount_cents,
            kind: EventKind::Placed,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an OrderEvent always serialises")
    }

    /// Parse and validate one record's payload.
    pub fn decode(payload: Option<&[u8]>) -> Result<OrderEvent, PoisonReason> {
        let bytes = payload.ok_or(PoisonReason::Empty)?;
        let event: OrderEvent =
            serde_json::from_slice(bytes).map_err(|e| PoisonReason::Malformed(e.to_string()))?;
        if event.event_id.is_empty() || event.order_id.is_empty() || event.customer.is_empty() {
            return Err(PoisonReason::Invalid(
                "event_id, order_id and customer must be non-empty",
            ));
        }
        if event.amount_cents <= 0 {
            return Err(PoisonReason::Invalid("amount_cents must be positive"));
        }
        Ok(event)
    }

    /// What this event does to its customer's total.
    pub fn delta_cents(&self) -> i64 {
        match self.kind {
            EventKind::Placed => self.amount_cents,
            EventKind::Cancelled => -self.amount_cents,
        }
    }
}
