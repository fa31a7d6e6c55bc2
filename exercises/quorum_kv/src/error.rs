// PROVIDED: read it, do not change it.
//! The crate's one error type, and how the HTTP front end answers each.
//!
//! A refused quorum is a 503 carrying `Retry-After`: the client is told the
//! store chose consistency over availability *for now*, and when to try again.
//! A 500 never tells the client its internal detail; the log does.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// A configuration that cannot work (R = 0, W > N, …). Refused at start.
    #[error("configuration refused: {0}")]
    BadConfig(String),
    /// A request the store will not act on (a bad key, consistency or body).
    /// Nothing was written.
    #[error("{0}")]
    BadRequest(String),
    /// Fewer replicas answered than the request needs, within its timeout.
    /// For a write the outcome is *unknown*, not failed: the replicas that did
    /// answer keep the version.
    #[error("only {got} of the {needed} replies needed arrived within {timeout:?}")]
    Unavailable {
        needed: usize,
        got: usize,
        timeout: Duration,
        retry_after: Duration,
    },
    /// One replica's answer was an error, or never came.
    #[error("replica {node} at {addr}: {detail}")]
    Replica {
        node: usize,
        addr: String,
        detail: String,
    },
    /// A history the checker cannot read (a completion with no invocation, …).
    #[error("malformed history: {0}")]
    BadHistory(String),
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
}

impl KvError {
    pub fn status(&self) -> StatusCode {
        match self {
            KvError::BadRequest(_) => StatusCode::BAD_REQUEST,
            KvError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            KvError::BadConfig(_)
            | KvError::Replica { .. }
            | KvError::BadHistory(_)
            | KvError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for KvError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            // The detail names hosts and tables: for the log, not the client.
            tracing::error!(error = %self, "request failed");
            "internal error".to_string()
        } else {
            self.to_string()
        };
        let mut response = (status, body).into_response();
        if let KvError::Unavailable { retry_after, .. } = &self {
            // Whole seconds, at least one: `Retry-After: 0` invites a hot loop.
            let secs = retry_after.as_secs().max(1);
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&secs.to_string()).expect("digits are a valid header"),
            );
        }
        response
    }
}
