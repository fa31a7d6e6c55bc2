//! One error type for the whole API, rendered as RFC 9457 problem details.
//!
//! Every variant documents its status and its `type`. The `type` URIs are part of
//! the API contract: clients branch on them, so they never change once published
//! (the human-readable `title` and `detail` may). A 5xx tells the client little
//! and logs the cause.

use axum::extract::rejection::JsonRejection;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
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
    /// 401 `/problems/unauthenticated`: no client, unknown client, or a missing,
    /// stale or wrong signature.
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
    /// 502 `/problems/processor-unavailable`: retry with the same key.
    #[error("the card processor is unavailable")]
    ProcessorUnavailable(String),
    /// 504 `/problems/processor-timeout`: the outcome is unknown; retry with the
    /// same key and the retry will find out.
    #[error("the card processor did not answer in time")]
    ProcessorTimeout,
    /// 503 `/problems/unavailable` when the database cannot be reached, else 500
    /// `/problems/internal`.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// 500 `/problems/internal`.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::MalformedJson(_) | AppError::InvalidIdempotencyKey(_) => {
                StatusCode::BAD_REQUEST
            }
            AppError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::InvalidRequest(_)
            | AppError::InsufficientFunds { .. }
            | AppError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::AccountNotFound(_) | AppError::PaymentNotFound(_) => StatusCode::NOT_FOUND,
            AppError::RequestInProgress { .. } => StatusCode::CONFLICT,
            AppError::CardDeclined => StatusCode::PAYMENT_REQUIRED,
            AppError::ProcessorUnavailable(_) => StatusCode::BAD_GATEWAY,
            AppError::ProcessorTimeout => StatusCode::GATEWAY_TIMEOUT,
            AppError::Database(e) if is_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn problem_type(&self) -> &'static str {
        match self {
            AppError::MalformedJson(_) => "/problems/malformed-json",
            AppError::BodyTooLarge { .. } => "/problems/body-too-large",
            AppError::InvalidRequest(_) => "/problems/invalid-request",
            AppError::InvalidIdempotencyKey(_) => "/problems/invalid-idempotency-key",
            AppError::Unauthenticated(_) => "/problems/unauthenticated",
            AppError::AccountNotFound(_) => "/problems/account-not-found",
            AppError::PaymentNotFound(_) => "/problems/payment-not-found",
            AppError::InsufficientFunds { .. } => "/problems/insufficient-funds",
            AppError::IdempotencyKeyReused => "/problems/idempotency-key-reused",
            AppError::RequestInProgress { .. } => "/problems/request-in-progress",
            AppError::CardDeclined => "/problems/card-declined",
            AppError::ProcessorUnavailable(_) => "/problems/processor-unavailable",
            AppError::ProcessorTimeout => "/problems/processor-timeout",
            AppError::Database(e) if is_unavailable(e) => "/problems/unavailable",
            AppError::Database(_) | AppError::Internal(_) => "/problems/internal",
        }
    }

    /// What the client may read about the cause. Server-side causes stay in the log.
    fn detail(&self) -> String {
        match self {
            AppError::MalformedJson(why) | AppError::InvalidRequest(why) => why.clone(),
            AppError::InvalidIdempotencyKey(why) | AppError::Unauthenticated(why) => {
                why.to_string()
            }
            AppError::AccountNotFound(id) => format!("account {id} does not exist"),
            AppError::PaymentNotFound(id) => format!("payment {id} does not exist"),
            AppError::InsufficientFunds { account } => {
                format!("account {account} cannot cover this payment")
            }
            AppError::RequestInProgress { retry_after_secs } => {
                format!("retry in {retry_after_secs} s with the same Idempotency-Key")
            }
            AppError::ProcessorUnavailable(_) | AppError::ProcessorTimeout => {
                "nothing was lost: retry with the same Idempotency-Key".to_string()
            }
            other => other.to_string(),
        }
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
    )
}

/// The JSON extractor's rejections become our own problems.
impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> AppError {
        match rejection {
            JsonRejection::JsonDataError(e) => AppError::InvalidRequest(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => AppError::MalformedJson(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => {
                AppError::MalformedJson("expected Content-Type: application/json".into())
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::BodyTooLarge { limit: 0 }
            }
            other => AppError::MalformedJson(other.body_text()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        let body = serde_json::json!({
            "type": self.problem_type(),
            "title": self.to_string(),
            "status": status.as_u16(),
            "detail": if status.is_server_error() && !matches!(self, AppError::ProcessorUnavailable(_) | AppError::ProcessorTimeout) {
                "the error has been logged".to_string()
            } else {
                self.detail()
            },
        });
        let mut response = (status, body.to_string()).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let AppError::RequestInProgress { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
        }
        response
    }
}
