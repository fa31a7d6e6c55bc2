//! Step 3 — idempotency keys: a retry never pays twice.
//!
//! ## The protocol
//! 1. **Claim** the key in its own short transaction: `INSERT … ON CONFLICT DO
//!    NOTHING` on the `(client_id, key)` primary key. Exactly one request wins,
//!    however many arrive at once; the losers read the winner's row.
//! 2. The row says what to answer a duplicate:
//!    - a different request fingerprint → 422 (the key was reused for something else);
//!    - `finished` → replay the stored status and body, write nothing;
//!    - lease still running → 409 with `Retry-After` (someone is working on it);
//!    - lease expired → take over and **resume from the recovery point** (a crash
//!      happened; see `api::process`). If the first request was only slow, it
//!      loses at its next recovery point: progress is a compare-and-set (see
//!      `advance`), so the work is recorded once whoever does it.
//! 3. The claim is committed *before* the work starts, so a duplicate sees it at
//!    once and gets its 409 instead of queueing behind the first request's locks.
//!
//! A request refused by validation deletes its claim: it stored nothing, so the
//! corrected request may reuse the key. Completed keys are kept for the
//! retention period (24 h) and then reaped.
//!
//! ## What production adds
//! Storing the response with a size cap, a reconciliation job for keys abandoned
//! mid-flight longer than the retention period, and metrics on replays and 409s.

use std::time::Duration;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Row};

use crate::error::AppError;
use crate::model::{MAX_IDEMPOTENCY_KEY, NewPayment};

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

    fn parse(text: &str) -> Result<RecoveryPoint, AppError> {
        Ok(match text {
            "started" => RecoveryPoint::Started,
            "payment_created" => RecoveryPoint::PaymentCreated,
            "charge_created" => RecoveryPoint::ChargeCreated,
            "finished" => RecoveryPoint::Finished,
            other => {
                return Err(AppError::Internal(format!(
                    "unknown recovery point {other:?}"
                )));
            }
        })
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

/// The `Idempotency-Key` header: required, 1 to 255 characters.
pub fn key_from(headers: &HeaderMap) -> Result<String, AppError> {
    let value = headers.get(HEADER).ok_or(AppError::InvalidIdempotencyKey(
        "the Idempotency-Key header is missing",
    ))?;
    let key = value.to_str().map_err(|_| {
        AppError::InvalidIdempotencyKey("the Idempotency-Key must be visible ASCII")
    })?;
    if key.trim().is_empty() {
        return Err(AppError::InvalidIdempotencyKey(
            "the Idempotency-Key is empty",
        ));
    }
    if key.chars().count() > MAX_IDEMPOTENCY_KEY {
        return Err(AppError::InvalidIdempotencyKey(
            "the Idempotency-Key is longer than 255 characters",
        ));
    }
    Ok(key.to_string())
}

/// A digest of what the request asks for. Computed over the parsed request
/// re-serialised, so whitespace or key order in the client's JSON does not
/// matter, but any difference in meaning does.
pub fn fingerprint(new: &NewPayment) -> String {
    let canonical = serde_json::to_vec(new).expect("a NewPayment always serialises");
    hex::encode(Sha256::digest(&canonical))
}

/// Claim `key` for this request, or say what to answer instead.
pub async fn begin(
    pool: &PgPool,
    client_id: &str,
    key: &str,
    fingerprint: &str,
    now_ms: i64,
    lease: Duration,
) -> Result<Begin, AppError> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    // Twice at most: if the row we collided with disappears before we read it (a
    // refused request releasing its claim), the second insert wins or finds a
    // newer row.
    for _ in 0..2 {
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (client_id, key, fingerprint, recovery_point, locked_until_ms, created_ms)
             VALUES ($1, $2, $3, 'started', $4, $5)
             ON CONFLICT (client_id, key) DO NOTHING",
        )
        .bind(client_id)
        .bind(key)
        .bind(fingerprint)
        .bind(now_ms.saturating_add(lease_ms))
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            tx.commit().await?;
            return Ok(Begin::Proceed(Claim {
                client_id: client_id.into(),
                key: key.into(),
                recovery_point: RecoveryPoint::Started,
                payment_id: None,
            }));
        }

        let Some(row) = sqlx::query(
            "SELECT fingerprint, recovery_point, locked_until_ms, payment_id, response_status, response_body
             FROM idempotency_keys WHERE client_id = $1 AND key = $2 FOR UPDATE",
        )
        .bind(client_id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?
        else {
            continue;
        };
        if row.get::<String, _>("fingerprint") != fingerprint {
            return Err(AppError::IdempotencyKeyReused);
        }
        let point = RecoveryPoint::parse(row.get("recovery_point"))?;
        if point == RecoveryPoint::Finished {
            let status: i32 = row.get("response_status");
            return Ok(Begin::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                body: row.get("response_body"),
            }));
        }
        if let Some(until) = row.get::<Option<i64>, _>("locked_until_ms")
            && until > now_ms
        {
            let wait_ms = u64::try_from(until - now_ms).unwrap_or(u64::MAX);
            return Err(AppError::RequestInProgress {
                retry_after_secs: wait_ms.div_ceil(1000),
            });
        }
        // The lease ran out (a crash) or was released (a retryable failure): take over.
        sqlx::query(
            "UPDATE idempotency_keys SET locked_until_ms = $3 WHERE client_id = $1 AND key = $2",
        )
        .bind(client_id)
        .bind(key)
        .bind(now_ms.saturating_add(lease_ms))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Begin::Proceed(Claim {
            client_id: client_id.into(),
            key: key.into(),
            recovery_point: point,
            payment_id: row.get("payment_id"),
        }));
    }
    Err(AppError::Internal(
        "could not claim the idempotency key".into(),
    ))
}

/// Record progress, in the caller's transaction (so progress and the work it
/// records commit together) — but only from the recovery point this request
/// started the step at.
///
/// A lease is a promise about time, and a slow request can outlive it: stuck
/// on a row lock for 31 s, it is still running when a retry takes the key over
/// and starts the same step. Both then do the work; whichever records it second
/// must not. So the update is a compare-and-set on `recovery_point`: if another
/// request has moved the key on, nothing is updated and this fails with 409
/// `RequestInProgress`, and the caller's transaction — the duplicate work —
/// rolls back. (The row lock the update takes also makes the loser wait for the
/// winner's commit, then see its new recovery point.)
pub async fn advance(
    tx: &mut PgConnection,
    claim: &mut Claim,
    point: RecoveryPoint,
    payment_id: Option<&str>,
) -> Result<(), AppError> {
    let updated = sqlx::query(
        "UPDATE idempotency_keys SET recovery_point = $3, payment_id = COALESCE($4, payment_id)
         WHERE client_id = $1 AND key = $2 AND recovery_point = $5",
    )
    .bind(&claim.client_id)
    .bind(&claim.key)
    .bind(point.as_str())
    .bind(payment_id)
    .bind(claim.recovery_point.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(overtaken());
    }
    claim.recovery_point = point;
    if let Some(id) = payment_id {
        claim.payment_id = Some(id.to_string());
    }
    Ok(())
}

/// Store the final response, in the caller's transaction; later duplicates
/// replay it. A compare-and-set like `advance`: a request that was overtaken
/// (say, two of them both told "declined") stores nothing and its transaction
/// — the second reversal — rolls back.
pub async fn complete(
    tx: &mut PgConnection,
    claim: &mut Claim,
    status: u16,
    body: &str,
) -> Result<(), AppError> {
    let updated = sqlx::query(
        "UPDATE idempotency_keys
         SET recovery_point = 'finished', response_status = $3, response_body = $4, locked_until_ms = NULL
         WHERE client_id = $1 AND key = $2 AND recovery_point = $5",
    )
    .bind(&claim.client_id)
    .bind(&claim.key)
    .bind(i32::from(status))
    .bind(body)
    .bind(claim.recovery_point.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(overtaken());
    }
    claim.recovery_point = RecoveryPoint::Finished;
    Ok(())
}

/// What a request answers when a retry took its key over and moved it on: the
/// key is in other hands, so "in progress"; asking again gets the other
/// request's answer once it has one.
fn overtaken() -> AppError {
    AppError::RequestInProgress {
        retry_after_secs: 1,
    }
}

/// Give the key back after a retryable failure: the next retry may resume at once.
/// Only while the key is still where this request left it: a request that was
/// overtaken (a retry took the key over and moved it on) must not free the
/// lease of the request now holding it. (A retry that took over but has not
/// moved the key yet shares the recovery point, and its lease can still be
/// freed early; the compare-and-set in `advance` and `complete` keeps that to
/// a 409, never a second payment. Production would store a lease owner.)
pub async fn release(pool: &PgPool, claim: &Claim) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE idempotency_keys SET locked_until_ms = NULL
         WHERE client_id = $1 AND key = $2 AND recovery_point = $3",
    )
    .bind(&claim.client_id)
    .bind(&claim.key)
    .bind(claim.recovery_point.as_str())
    .execute(pool)
    .await?;
    Ok(())
}

/// Drop a claim that never did anything (a request refused by validation), so
/// that a corrected request may use the same key.
pub async fn forget(pool: &PgPool, claim: &Claim) -> Result<(), AppError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE client_id = $1 AND key = $2 AND recovery_point = 'started'")
        .bind(&claim.client_id)
        .bind(&claim.key)
        .execute(pool)
        .await?;
    Ok(())
}

/// The reaper: delete finished keys older than `retention`; returns how many.
/// Run it periodically (every few minutes). Keys abandoned mid-flight are left
/// for reconciliation, not deleted: they may hold a charge nobody recorded yet.
///
/// Age counts from the key's first use (`created_ms`), as Stripe's 24 hours
/// do. A key that only finishes late in that time — a retry after a long
/// outage — is therefore kept for less after finishing, and a replay after
/// it is gone runs again. Production would also record when a key finished
/// and reap by that.
pub async fn reap(pool: &PgPool, now_ms: i64, retention: Duration) -> Result<u64, AppError> {
    let cutoff = now_ms.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
    let deleted = sqlx::query(
        "DELETE FROM idempotency_keys WHERE recovery_point = 'finished' AND created_ms < $1",
    )
    .bind(cutoff)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(deleted)
}
