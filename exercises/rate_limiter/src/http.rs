//! Step 4 (and part of step 5) — the limiter in front of an axum router.
//!
//! What a client must see (README, step 4):
//! * allowed: the handler's response plus `RateLimit-Policy: "default";q=<quota>;w=<window s>`
//!   and `RateLimit: "default";r=<remaining>;t=<seconds until full>` — the
//!   fields of the IETF httpapi ratelimit-headers draft;
//! * over quota: `429`, `Retry-After` in whole seconds (rounded up, never 0),
//!   both fields, and an RFC 9457 `application/problem+json` body; the handler
//!   does not run;
//! * a malformed `x-api-key` (empty, over 64 characters, or anything but
//!   `A-Z a-z 0-9 - _ . ~`): `400` with problem+json, counted against nobody;
//! * step 5: a degraded refusal (fail closed, store down): `503` with `Retry-After`.
//!
//! Clients are keyed by `x-api-key` when present, else by the peer's IP address
//! (from `ConnectInfo<SocketAddr>`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::limiter::{Limiter, Policy};
use crate::quota::{Decision, RateLimitError};

/// The header carrying a client's API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Longest API key accepted.
pub const MAX_API_KEY_LEN: usize = 64;
/// The policy name used in `RateLimit` and `RateLimit-Policy`.
pub const POLICY_NAME: &str = "default";

pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// `router`, with every request going through `limiter` first (cost 1 each).
/// (Provided.) Serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn rate_limited(router: Router, limiter: Arc<dyn Limiter>) -> Router {
    router.layer(middleware::from_fn_with_state(limiter, enforce))
}

/// The middleware: identify the client, ask the limiter, then answer or pass on.
pub async fn enforce(
    State(limiter): State<Arc<dyn Limiter>>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    // TODO(step 4): identify the client before spending anyone's quota, check the
    // limiter, refuse with the right AppError, or run the handler and add the
    // RateLimit fields to its response.
    // TODO(step 5): a degraded refusal is the limiter's failure, not the client's.
    todo!("step 4: http::enforce — see README step 4")
}

/// Who the request counts against: derived from `x-api-key`, else the peer IP.
/// Keys and addresses must never share a bucket.
pub fn client_key(request: &Request) -> Result<String, AppError> {
    // TODO(step 4)
    todo!("step 4: http::client_key — see README step 4")
}

/// `RateLimit-Policy: "default";q=<quota>;w=<window seconds>`.
pub fn policy_header(policy: Policy) -> HeaderValue {
    // TODO(step 4)
    todo!("step 4: http::policy_header — see README step 4")
}

/// `RateLimit: "default";r=<remaining>;t=<seconds until full>`.
pub fn ratelimit_header(decision: &Decision) -> HeaderValue {
    // TODO(step 4)
    todo!("step 4: http::ratelimit_header — see README step 4")
}

/// Every way the middleware can refuse a request; each variant says its status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 — the API key header is present but unusable.
    #[error("malformed API key: {0}")]
    MalformedApiKey(&'static str),
    /// 429 — over quota; the body and headers say when to come back.
    #[error("rate limit exceeded")]
    TooManyRequests { decision: Decision, policy: Policy },
    /// 503 — the limiter could not decide and its policy is to refuse.
    #[error("rate limiting is temporarily unavailable")]
    LimiterUnavailable { retry_after: Duration },
    /// 500 — a wiring mistake on our side; logged, not shown to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<RateLimitError> for AppError {
    fn from(e: RateLimitError) -> AppError {
        AppError::Internal(e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        // TODO(step 4): status, `application/problem+json` body (type, title,
        // status, detail), Retry-After and the RateLimit fields where they apply.
        // The title is fixed per kind of problem; what varies goes in detail.
        // Never send an Internal error's detail to the client: log it.
        todo!("step 4: AppError::into_response — see README step 4")
    }
}
