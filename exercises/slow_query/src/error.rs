// PROVIDED: read it, do not change it.
//! The API's one error type, rendered as RFC 9457 problem details
//! (`Content-Type: application/problem+json`):
//!
//! ```json
//! {"type": "/problems/invalid-cursor", "title": "the cursor is not valid", "status": 400, "detail": "…"}
//! ```
//!
//! A 500 tells the client nothing of its cause (the cause is logged at ERROR);
//! a 400 is the client's mistake and is logged at most at DEBUG, so bad input
//! never pages anyone.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 `/problems/invalid-customer`: the id in the path is not a positive integer.
    #[error("the customer id is not valid")]
    InvalidCustomer(String),
    /// 400 `/problems/invalid-limit`: `limit` is not a whole number from 1 to the maximum.
    #[error("the limit is not valid")]
    InvalidLimit(String),
    /// 400 `/problems/invalid-cursor`: malformed, tampered with, or another customer's.
    #[error("the cursor is not valid")]
    InvalidCursor(String),
    /// 400 `/problems/invalid-query`: an unknown or unreadable query parameter.
    #[error("the query string is not valid")]
    InvalidQuery(String),
    /// 500 `/problems/internal`: logged, never described to the client.
    #[error("internal error")]
    Database(#[from] sqlx::Error),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub fn problem_type(&self) -> &'static str {
        match self {
            AppError::InvalidCustomer(_) => "/problems/invalid-customer",
            AppError::InvalidLimit(_) => "/problems/invalid-limit",
            AppError::InvalidCursor(_) => "/problems/invalid-cursor",
            AppError::InvalidQuery(_) => "/problems/invalid-query",
            AppError::Database(_) => "/problems/internal",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            AppError::Database(e) => {
                tracing::error!(error = %e, "database error serving a page of orders");
                "the server could not answer; try again later".to_string()
            }
            AppError::InvalidCustomer(d)
            | AppError::InvalidLimit(d)
            | AppError::InvalidCursor(d)
            | AppError::InvalidQuery(d) => {
                tracing::debug!(problem = self.problem_type(), detail = %d, "bad request");
                d.clone()
            }
        };
        let body = serde_json::json!({
            "type": self.problem_type(),
            "title": self.to_string(),
            "status": status.as_u16(),
            "detail": detail,
        });
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}
