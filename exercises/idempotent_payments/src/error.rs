//! One error type for the whole API, rendered as RFC 9457 problem details:
//!
//! ```json
//! {"type": "/problems/insufficient-funds", "title": "insufficient funds", "status": 422, "detail": "…"}
//! ```
//!
//! with `Content-Type: application/problem+json`. Each variant says its status
//! and its `type`; the tests check both. A 5xx tells the client little (log the
//! cause instead); a 409 carries `Retry-After`.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 `/problems/malformed-json`: the body is not JSON (or not labelled as JSON).
    #[error("the request body is not valid JSON")]
    MalformedJson(String),
    /// 413 `/problems/body-too-large`.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// 422 `/problems/invalid-request`: well-formed, but not a valid payment (or query).
    #[error("the request is not valid")]
    InvalidRequest(String),
    /// 400 `/problems/invalid-idempotency-key`: missing, empty or too long.
    #[error("a valid Idempotency-Key header is required")]
    InvalidIdempotencyKey(&'static str),
    /// 401 `/problems/unauthenticated`.
    #[error("the request could not be authenticated")]
    Unauthenticated(&'static str),
    /// 404 `/problems/account-not-found`.
    #[error("no such account")]
    AccountNotFound(String),
    /// 404 `/problems/payment-not-found`.
    #[error("no such payment")]
    PaymentNotFound(String),
    /// 422 `/problems/insufficient-funds`.
    #[error("insufficient funds")]
    InsufficientFunds { account: String },
    /// 422 `/problems/idempotency-key-reused`: same key, different request.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// 409 `/problems/request-in-progress`, with `Retry-After`.
    #[error("a request with this Idempotency-Key is still in progress")]
    RequestInProgress { retry_after_secs: u64 },
    /// 402 `/problems/card-declined`.
    #[error("the card was declined")]
    CardDeclined,
    /// 502 `/problems/processor-unavailable`.
    #[error("the card processor is unavailable")]
    ProcessorUnavailable(String),
    /// 504 `/problems/processor-timeout`.
    #[error("the card processor did not answer in time")]
    ProcessorTimeout,
    /// 503 `/problems/unavailable` when the database cannot be reached, else
    /// 500 `/problems/internal`.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// 500 `/problems/internal`.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        // TODO(step 1): the status each variant documents.
        todo!("step 1: AppError::status — see README step 1")
    }

    pub fn problem_type(&self) -> &'static str {
        // TODO(step 1): the `type` each variant documents.
        todo!("step 1: AppError::problem_type — see README step 1")
    }
}

/// The JSON extractor's rejections become our own problems: syntax → 400,
/// data (missing field, wrong type, unknown field) → 422, too large → 413.
impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> AppError {
        // TODO(step 1)
        todo!("step 1: AppError::from(JsonRejection) — see README step 1")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        // TODO(step 1): problem+json body and content type; Retry-After on 409;
        // never a 5xx's internal detail in the body (log it).
        todo!("step 1: AppError::into_response — see README step 1")
    }
}
