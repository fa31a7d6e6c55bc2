//! Step 1 (and the flow of steps 3–4) — the HTTP API.
//!
//! | method and path                               | answer                                   |
//! |-----------------------------------------------|------------------------------------------|
//! | `POST /v1/payments` + `Idempotency-Key`       | 201 and the payment (replays: same answer, `Idempotent-Replayed: true`) |
//! | `GET /v1/payments/{id}`                       | 200 and the payment, or 404              |
//! | `GET /v1/payments?limit=&starting_after=`     | 200, newest first, `has_more`            |
//! | `GET /v1/accounts/{id}`                       | 200 and the balance, or 404              |
//!
//! Every request names its client in `X-Client-Id` (and signs it, step 5);
//! clients see only their own payments. Errors are problem+json (see `error`).
//!
//! ## Versioning
//! The version is in the path (`/v1`). Additive changes — a new optional field,
//! a new endpoint — stay in v1; renaming or removing a field, or changing what a
//! status means, is a v2 that runs beside v1 until clients have moved.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde::Deserialize;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::app::AppState;
use crate::error::AppError;
use crate::idempotency::{self, Begin, Claim, RecoveryPoint, StoredResponse};
use crate::model::{
    CURRENCIES, DEFAULT_PAGE, MAX_AMOUNT, MAX_DESCRIPTION, MAX_PAGE, NewPayment, Payment,
    PaymentList,
};
use crate::processor::ChargeError;
use crate::signing::{self, CLIENT_HEADER};
use crate::{ledger, processor};

/// The columns `payment_from` reads. A macro rather than a `const`, so queries
/// can be assembled with `concat!` and stay `&'static str`: sqlx 0.9 refuses
/// SQL built at run time unless it is explicitly marked safe.
macro_rules! payment_columns {
    () => {
        "id, amount, currency, source, destination, description, status, created_ms"
    };
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/payments", post(create_payment).get(list_payments))
        .route("/v1/payments/{id}", get(get_payment))
        .route("/v1/accounts/{id}", get(get_account))
        // Outermost: nothing runs for a request that is not signed (step 5).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            signing::verify,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.body_limit,
        ))
        .with_state(state)
}

/// The calling client, from `X-Client-Id` (authenticated by the signature).
pub struct ClientId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<ClientId, AppError> {
        parts
            .headers
            .get(CLIENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(|v| ClientId(v.to_string()))
            .ok_or(AppError::Unauthenticated(
                "the X-Client-Id header is missing",
            ))
    }
}

async fn create_payment(
    State(state): State<AppState>,
    ClientId(client_id): ClientId,
    headers: HeaderMap,
    body: Result<Json<NewPayment>, JsonRejection>,
) -> Result<Response, AppError> {
    let key = idempotency::key_from(&headers)?;
    let Json(new) = body?;
    validate(&new)?;
    let fingerprint = idempotency::fingerprint(&new);
    let now = state.clock.now_ms();
    match idempotency::begin(
        &state.pool,
        &client_id,
        &key,
        &fingerprint,
        now,
        state.config.lease,
    )
    .await?
    {
        Begin::Replay(stored) => Ok(replay(stored)),
        Begin::Proceed(claim) => process(&state, claim, &new).await,
    }
}

/// Everything that can be checked without the database. Nothing is written for
/// a request that fails here — not even its idempotency key.
pub fn validate(new: &NewPayment) -> Result<(), AppError> {
    let invalid = |why: String| Err(AppError::InvalidRequest(why));
    if new.amount <= 0 {
        return invalid(format!("amount must be positive, got {}", new.amount));
    }
    if new.amount > MAX_AMOUNT {
        return invalid(format!(
            "amount must be at most {MAX_AMOUNT}, got {}",
            new.amount
        ));
    }
    if !CURRENCIES.contains(&new.currency.as_str()) {
        return invalid(format!(
            "{:?} is not a supported ISO 4217 currency code",
            new.currency
        ));
    }
    if new.source == new.destination {
        return invalid("source and destination must be different accounts".into());
    }
    if new.description.chars().count() > MAX_DESCRIPTION {
        return invalid(format!(
            "description is longer than {MAX_DESCRIPTION} characters"
        ));
    }
    Ok(())
}

/// Run a claimed request from wherever an earlier attempt stopped. On a failure
/// the client can retry, the lease is released so that the retry resumes at once.
pub async fn process(
    state: &AppState,
    mut claim: Claim,
    new: &NewPayment,
) -> Result<Response, AppError> {
    match drive(state, &mut claim, new).await {
        Ok(response) => Ok(response),
        Err(Failure::Refused(e)) => {
            // Validation against the database failed: nothing was written, so the
            // key is released entirely and a corrected request may reuse it.
            idempotency::forget(&state.pool, &claim).await?;
            Err(e)
        }
        // Overtaken: the key belongs to the retry that took it over, so this
        // request leaves its lease alone.
        Err(Failure::Final(e) | Failure::Overtaken(e)) => Err(e),
        Err(Failure::Retryable(e)) => {
            if let Err(release) = idempotency::release(&state.pool, &claim).await {
                tracing::warn!(error = ?release, "could not release an idempotency key; its lease will expire");
            }
            Err(e)
        }
    }
}

enum Failure {
    /// Refused by validation; nothing written.
    Refused(AppError),
    /// Decided and stored (a decline); duplicates replay it.
    Final(AppError),
    /// Outcome unknown or interrupted; a retry resumes.
    Retryable(AppError),
    /// This request outlived its lease and a retry took the key over and moved
    /// it on first: this one's step rolled back (see `idempotency::advance`).
    Overtaken(AppError),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Failure {
        Failure::Retryable(AppError::Database(e))
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Failure {
        match e {
            // Only `advance` and `complete` answer this here: another request
            // moved the key on.
            e @ AppError::RequestInProgress { .. } => Failure::Overtaken(e),
            e => Failure::Retryable(e),
        }
    }
}

/// The recovery points in order. Each arm commits its work and its new recovery
/// point in one transaction, so a crash between arms loses nothing and a retry
/// starts at the first arm not yet done.
async fn drive(state: &AppState, claim: &mut Claim, new: &NewPayment) -> Result<Response, Failure> {
    loop {
        match claim.recovery_point {
            RecoveryPoint::Started => {
                let payment_id = format!("pay_{}", uuid::Uuid::new_v4().simple());
                let mut tx = state.pool.begin().await?;
                match ledger::create_payment(
                    &mut tx,
                    &claim.client_id,
                    &payment_id,
                    new,
                    state.clock.now_ms(),
                )
                .await
                {
                    Ok(_) => {}
                    Err(
                        e @ (AppError::AccountNotFound(_)
                        | AppError::InvalidRequest(_)
                        | AppError::InsufficientFunds { .. }),
                    ) => {
                        return Err(Failure::Refused(e));
                    }
                    Err(e) => return Err(Failure::Retryable(e)),
                }
                idempotency::advance(
                    &mut tx,
                    claim,
                    RecoveryPoint::PaymentCreated,
                    Some(&payment_id),
                )
                .await?;
                tx.commit().await?;
            }
            RecoveryPoint::PaymentCreated => {
                let payment_id = claim
                    .payment_id
                    .clone()
                    .ok_or_else(|| AppError::Internal("no payment id".into()))?;
                let charge_id = match &state.processor {
                    None => None,
                    Some(processor) => match charge(processor, &payment_id, new).await {
                        Ok(id) => Some(id),
                        Err(ChargeError::Declined) => {
                            let declined = AppError::CardDeclined;
                            let mut tx = state.pool.begin().await?;
                            ledger::reverse(&mut tx, &payment_id).await?;
                            idempotency::complete(
                                &mut tx,
                                claim,
                                declined.status().as_u16(),
                                &problem_body(&declined),
                            )
                            .await?;
                            tx.commit().await?;
                            return Err(Failure::Final(declined));
                        }
                        Err(ChargeError::TimedOut) => {
                            return Err(Failure::Retryable(AppError::ProcessorTimeout));
                        }
                        Err(ChargeError::Unavailable(why)) => {
                            return Err(Failure::Retryable(AppError::ProcessorUnavailable(why)));
                        }
                    },
                };
                let mut tx = state.pool.begin().await?;
                sqlx::query("UPDATE payments SET charge_id = $2 WHERE id = $1")
                    .bind(&payment_id)
                    .bind(charge_id)
                    .execute(&mut *tx)
                    .await?;
                idempotency::advance(&mut tx, claim, RecoveryPoint::ChargeCreated, None).await?;
                tx.commit().await?;
            }
            RecoveryPoint::ChargeCreated => {
                let payment_id = claim
                    .payment_id
                    .clone()
                    .ok_or_else(|| AppError::Internal("no payment id".into()))?;
                let mut tx = state.pool.begin().await?;
                let row = sqlx::query(concat!(
                    "UPDATE payments SET status = 'succeeded' WHERE id = $1 RETURNING ",
                    payment_columns!()
                ))
                .bind(&payment_id)
                .fetch_one(&mut *tx)
                .await?;
                let payment = payment_from(&row);
                let body = serde_json::to_string(&payment)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                idempotency::complete(&mut tx, claim, 201, &body).await?;
                tx.commit().await?;
                return Ok(created(&payment.id, body));
            }
            RecoveryPoint::Finished => {
                return Err(Failure::Final(AppError::Internal(
                    "resumed a finished request".into(),
                )));
            }
        }
    }
}

async fn charge(
    processor: &processor::ProcessorClient,
    payment_id: &str,
    new: &NewPayment,
) -> Result<String, ChargeError> {
    processor
        .charge(payment_id, new.amount, &new.currency)
        .await
}

fn problem_body(error: &AppError) -> String {
    serde_json::json!({
        "type": error.problem_type(),
        "title": error.to_string(),
        "status": error.status().as_u16(),
        "detail": "the card was declined",
    })
    .to_string()
}

fn created(payment_id: &str, body: String) -> Response {
    let mut response = (StatusCode::CREATED, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(location) = location_of(payment_id) {
        headers.insert(LOCATION, location);
    }
    response
}

/// `Location: /v1/payments/{id}` (ids are ASCII, so this is always `Some`).
fn location_of(payment_id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("/v1/payments/{payment_id}")).ok()
}

/// The stored answer, byte for byte, marked as a replay. A stored 201 is a
/// payment, and its `Location` is rebuilt from the payment's id: the replay is
/// the first answer, headers included.
fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let location = if status == StatusCode::CREATED {
        serde_json::from_str::<Payment>(&stored.body)
            .ok()
            .and_then(|payment| location_of(&payment.id))
    } else {
        None
    };
    let content_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(location) = location {
        headers.insert(LOCATION, location);
    }
    headers.insert(
        idempotency::REPLAYED_HEADER,
        HeaderValue::from_static("true"),
    );
    response
}

fn payment_from(row: &PgRow) -> Payment {
    Payment {
        id: row.get("id"),
        amount: row.get("amount"),
        currency: row.get::<String, _>("currency"),
        source: row.get("source"),
        destination: row.get("destination"),
        description: row.get("description"),
        status: row.get("status"),
        created: row.get::<i64, _>("created_ms") / 1000,
    }
}

async fn get_payment(
    State(state): State<AppState>,
    ClientId(client_id): ClientId,
    Path(id): Path<String>,
) -> Result<Json<Payment>, AppError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE id = $1 AND client_id = $2"
    ))
    .bind(&id)
    .bind(&client_id)
    .fetch_optional(&state.pool)
    .await?;
    row.map(|r| Json(payment_from(&r)))
        .ok_or(AppError::PaymentNotFound(id))
}

#[derive(Deserialize)]
pub struct ListParams {
    limit: Option<i64>,
    starting_after: Option<String>,
}

/// Newest first, by a cursor (`starting_after` = the last id of the previous
/// page), never by offset: with OFFSET, every payment inserted between two page
/// requests shifts the rest by one, and the next page repeats a row.
async fn list_payments(
    State(state): State<AppState>,
    ClientId(client_id): ClientId,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<PaymentList>, AppError> {
    let Query(params) = params.map_err(|e| AppError::InvalidRequest(e.body_text()))?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::InvalidRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let before = match &params.starting_after {
        None => i64::MAX,
        Some(cursor) => sqlx::query_scalar::<_, i64>(
            "SELECT seq FROM payments WHERE id = $1 AND client_id = $2",
        )
        .bind(cursor)
        .bind(&client_id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| {
            AppError::InvalidRequest(format!(
                "starting_after {cursor:?} is not one of your payments"
            ))
        })?,
    };
    // One more than asked for: if it exists, there is a next page.
    let rows = sqlx::query(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE client_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
    ))
    .bind(&client_id)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    let has_more = rows.len() as i64 > limit;
    let data = rows.iter().take(limit as usize).map(payment_from).collect();
    Ok(Json(PaymentList { data, has_more }))
}

async fn get_account(
    State(state): State<AppState>,
    ClientId(_): ClientId,
    Path(id): Path<String>,
) -> Result<Json<crate::model::Account>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(ledger::account(&mut conn, &id).await?))
}
