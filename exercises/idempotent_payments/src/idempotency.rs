//! Step 3 — idempotency keys: a retry never pays twice.
//!
//! The `idempotency_keys` table (see `migrations/`) holds one row per
//! (client, key): the request's fingerprint, how far it got (the recovery
//! point), a lease while a request works on it, and the stored response once it
//! is finished. Claim the key in its own short transaction before doing the
//! work, so that a duplicate sees the claim at once.

use std::time::Duration;

use axum::http::HeaderMap;
use sqlx::{PgConnection, PgPool};

use crate::error::AppError;
use crate::model::NewPayment;

pub const HEADER: &str = "idempotency-key";
/// Set on responses that were replayed from a stored result.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// How far a request got (mirrors the `recovery_point` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryPoint {
    Started,
    PaymentCreated,
    ChargeCreated,
    Finished,
}

impl RecoveryPoint {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryPoint::Started => "started",
            RecoveryPoint::PaymentCreated => "payment_created",
            RecoveryPoint::ChargeCreated => "charge_created",
            RecoveryPoint::Finished => "finished",
        }
    }
}

/// The key a request now owns, and how far an earlier attempt got.
#[derive(Clone, Debug)]
pub struct Claim {
    pub client_id: String,
    pub key: String,
    pub recovery_point: RecoveryPoint,
    pub payment_id: Option<String>,
}

/// A response stored for replay.
#[derive(Clone, Debug)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

pub enum Begin {
    /// This request owns the key: do (or resume) the work.
    Proceed(Claim),
    /// The work is done: answer with this, marked as a replay.
    Replay(StoredResponse),
}

/// The `Idempotency-Key` header: required, 1 to 255 characters (400 otherwise).
pub fn key_from(headers: &HeaderMap) -> Result<String, AppError> {
    // TODO(step 3)
    todo!("step 3: idempotency::key_from — see README step 3")
}

/// A digest of what the request asks for: equal for the same request, different
/// for any difference in meaning.
pub fn fingerprint(new: &NewPayment) -> String {
    // TODO(step 3)
    todo!("step 3: idempotency::fingerprint — see README step 3")
}

/// Claim `key` for this request, or say what to answer instead: replay (done),
/// 409 (lease running), 422 (different fingerprint). A lease that has run out
/// (a crash) is taken over.
pub async fn begin(
    pool: &PgPool,
    client_id: &str,
    key: &str,
    fingerprint: &str,
    now_ms: i64,
    lease: Duration,
) -> Result<Begin, AppError> {
    // TODO(step 3): one winner however many arrive at once.
    todo!("step 3: idempotency::begin — see README step 3")
}

/// Record progress in the caller's transaction (steps 3–4), only if the key is
/// still at `claim.recovery_point`. A slow request can outlive its lease while a
/// retry takes the key over: if the other request has moved the key on, update
/// nothing and fail with 409 (`AppError::RequestInProgress`), so the caller's
/// transaction — the same work done twice — rolls back.
pub async fn advance(
    tx: &mut PgConnection,
    claim: &mut Claim,
    point: RecoveryPoint,
    payment_id: Option<&str>,
) -> Result<(), AppError> {
    // TODO(step 3)
    todo!("step 3: idempotency::advance — see README step 3")
}

/// Store the final response in the caller's transaction; duplicates replay it.
/// Like `advance`, only if the key is still at `claim.recovery_point` (409
/// otherwise).
pub async fn complete(
    tx: &mut PgConnection,
    claim: &mut Claim,
    status: u16,
    body: &str,
) -> Result<(), AppError> {
    // TODO(step 3)
    todo!("step 3: idempotency::complete — see README step 3")
}

/// Give the key back after a retryable failure, so the next retry resumes at once.
pub async fn release(pool: &PgPool, claim: &Claim) -> Result<(), AppError> {
    // TODO(step 4)
    todo!("step 4: idempotency::release — see README step 4")
}

/// Drop a claim that did nothing (refused by validation), freeing the key.
pub async fn forget(pool: &PgPool, claim: &Claim) -> Result<(), AppError> {
    // TODO(step 3)
    todo!("step 3: idempotency::forget — see README step 3")
}

/// Delete finished keys older than `retention`; return how many.
pub async fn reap(pool: &PgPool, now_ms: i64, retention: Duration) -> Result<u64, AppError> {
    // TODO(step 3)
    todo!("step 3: idempotency::reap — see README step 3")
}
