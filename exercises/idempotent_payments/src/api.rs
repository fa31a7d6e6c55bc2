//! Step 1 (and the flow of steps 3–4) — the HTTP API.
//!
//! | method and path                               | answer                                   |
//! |-----------------------------------------------|------------------------------------------|
//! | `POST /v1/payments` + `Idempotency-Key`       | 201, the payment, `Location`             |
//! | `GET /v1/payments/{id}`                       | 200 and the payment, or 404              |
//! | `GET /v1/payments?limit=&starting_after=`     | 200, newest first, `{"data", "has_more"}`|
//! | `GET /v1/accounts/{id}`                       | 200 and `{"id", "currency", "balance"}`  |
//!
//! Every request names its client in `X-Client-Id`; clients see only their own
//! payments.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::idempotency::Claim;
use crate::model::{Account, NewPayment, Payment, PaymentList};
use crate::signing::CLIENT_HEADER;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/payments", post(create_payment).get(list_payments))
        .route("/v1/payments/{id}", get(get_payment))
        .route("/v1/accounts/{id}", get(get_account))
        // TODO(step 5): every request goes through signing::verify first
        // (axum::middleware::from_fn_with_state).
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.body_limit,
        ))
        .with_state(state)
}

/// The calling client, from `X-Client-Id` (401 when missing). (Provided.)
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

/// `POST /v1/payments`.
async fn create_payment(
    State(state): State<AppState>,
    ClientId(client_id): ClientId,
    headers: HeaderMap,
    body: Result<Json<NewPayment>, JsonRejection>,
) -> Result<Response, AppError> {
    // TODO(step 1): parse and validate; create the payment (201 + Location).
    // TODO(step 3): require the key, fingerprint the request, claim the key,
    // replay a finished one (with `Idempotent-Replayed: true`, and the
    // `Location` of a replayed 201).
    todo!("step 1: api::create_payment — see README steps 1 and 3")
}

/// Everything that can be checked without the database (422 otherwise).
pub fn validate(new: &NewPayment) -> Result<(), AppError> {
    // TODO(step 1)
    todo!("step 1: api::validate — see README step 1")
}

/// Run a claimed request from wherever an earlier attempt stopped: create the
/// payment, charge the processor (if configured), finish and store the answer.
/// Refusals free the key; retryable failures give the lease back; a request
/// overtaken by a retry (409 from `advance`/`complete`) leaves the key alone.
pub async fn process(
    state: &AppState,
    claim: Claim,
    new: &NewPayment,
) -> Result<Response, AppError> {
    // TODO(step 3): drive the claim through the recovery points.
    // TODO(step 4): the processor charge between payment_created and
    // charge_created; declines are final, timeouts and failures retryable.
    todo!("step 3: api::process — see README steps 3 and 4")
}

/// `GET /v1/payments/{id}`.
async fn get_payment(
    State(state): State<AppState>,
    ClientId(client_id): ClientId,
    Path(id): Path<String>,
) -> Result<Json<Payment>, AppError> {
    // TODO(step 1)
    todo!("step 1: api::get_payment — see README step 1")
}

#[derive(Deserialize)]
pub struct ListParams {
    limit: Option<i64>,
    starting_after: Option<String>,
}

/// `GET /v1/payments?limit=&starting_after=`: newest first, by cursor.
async fn list_payments(
    State(state): State<AppState>,
    ClientId(client_id): ClientId,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<PaymentList>, AppError> {
    // TODO(step 1)
    todo!("step 1: api::list_payments — see README step 1")
}

/// `GET /v1/accounts/{id}`.
async fn get_account(
    State(state): State<AppState>,
    ClientId(_): ClientId,
    Path(id): Path<String>,
) -> Result<Json<Account>, AppError> {
    // TODO(step 2)
    todo!("step 2: api::get_account — see README step 2")
}
