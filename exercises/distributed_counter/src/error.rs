// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! One error type for the node's API, rendered as problem+json.

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 `/problems/malformed-json`.
    #[error("the request body is not valid JSON")]
    MalformedJson,
    /// 400 `/problems/missing-request-id`: every increment needs a client request id.
    #[error("a request_id is required")]
    MissingRequestId,
    /// 400 `/problems/invalid-session-token`.
    #[error("the X-Session-Token header is malformed")]
    InvalidSessionToken,
    /// 422 `/problems/invalid-delta`: not an integer, zero, too large, or it would
    /// overflow the counter.
    #[error("invalid delta: {0}")]
    InvalidDelta(String),
    /// 422 `/problems/invalid-name`.
    #[error("invalid counter name")]
    InvalidName,
    /// 404 `/problems/counter-not-found`.
    #[error("no such counter")]
    CounterNotFound,
    /// 503 `/problems/unavailable`: this node cannot reach its store in time,
    /// or the store is shutting down or starting up. Nothing is acknowledged
    /// that is not durable.
    #[error("the counter store is unavailable")]
    Unavailable,
    /// 500 `/problems/internal`: logged, not detailed.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::MalformedJson
            | AppError::MissingRequestId
            | AppError::InvalidSessionToken => StatusCode::BAD_REQUEST,
            AppError::InvalidDelta(_) | AppError::InvalidName => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::CounterNotFound => StatusCode::NOT_FOUND,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn problem_type(&self) -> &'static str {
        match self {
            AppError::MalformedJson => "/problems/malformed-json",
            AppError::MissingRequestId => "/problems/missing-request-id",
            AppError::InvalidSessionToken => "/problems/invalid-session-token",
            AppError::InvalidDelta(_) => "/problems/invalid-delta",
            AppError::InvalidName => "/problems/invalid-name",
            AppError::CounterNotFound => "/problems/counter-not-found",
            AppError::Unavailable => "/problems/unavailable",
            AppError::Internal(_) => "/problems/internal",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            AppError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                "the error has been logged".to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::json!({
            "type": self.problem_type(),
            "title": self.to_string(),
            "status": status.as_u16(),
            "detail": detail,
        });
        let mut response = (status, body.to_string()).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
