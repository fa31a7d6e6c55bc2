//! Step 4 — the limiter in front of an axum router.
//!
//! ## What a client sees
//! * Allowed: the handler's response, plus `RateLimit-Policy` (the quota and its
//!   window) and `RateLimit` (what is left and when it is all back), in the syntax
//!   of the IETF httpapi ratelimit-headers draft:
//!   `RateLimit-Policy: "default";q=100;w=60` and `RateLimit: "default";r=42;t=35`.
//! * Refused: `429 Too Many Requests` with `Retry-After` (whole seconds, never 0),
//!   the same two fields, and an RFC 9457 problem+json body.
//! * A malformed `x-api-key`: `400` — and nothing is counted against anyone, not
//!   the key (it is not a key) and not the client address (the client may be a
//!   well-behaved neighbour behind the same NAT).
//! * The limiter's store is down and the policy is fail-closed: `503` with
//!   `Retry-After` — it is not the client's fault, so not a 429.
//!
//! ## Who is "the client"
//! The `x-api-key` header if present, else the peer IP address — the *IP*, not
//! the socket address: each new connection gets a new source port, and keying on
//! it would hand every connection a fresh quota. Keys are namespaced (`key:`,
//! `ip:`) so an API key that looks like an address cannot share its bucket.
//!
//! ## What production adds
//! Behind a load balancer the peer is the balancer: read the client address from
//! `Forwarded`/`X-Forwarded-For`, trusting only the hops you operate. Group IPv6
//! clients by /64, since one host owns a whole /64. Authenticate API keys before
//! limiting by them, or a client can rotate made-up keys to dodge its limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::limiter::{Limiter, Policy};
use crate::quota::{Decision, RateLimitError};

/// The header carrying a client's API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Longest API key accepted; anything longer is malformed, not a key.
pub const MAX_API_KEY_LEN: usize = 64;
/// The policy name used in `RateLimit` and `RateLimit-Policy`.
pub const POLICY_NAME: &str = "default";

pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// `router`, with every request going through `limiter` first (cost 1 each).
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so that
/// clients without an API key can be keyed by address.
pub fn rate_limited(router: Router, limiter: Arc<dyn Limiter>) -> Router {
    router.layer(middleware::from_fn_with_state(limiter, enforce))
}

/// The middleware itself.
pub async fn enforce(
    State(limiter): State<Arc<dyn Limiter>>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    // Identify first: a request we cannot attribute is refused before it can
    // spend anyone's quota.
    let key = client_key(&request)?;
    let policy = limiter.policy();
    let decision = limiter.check(&key, 1).await?;
    if !decision.allowed {
        return Err(if decision.degraded {
            AppError::LimiterUnavailable {
                retry_after: decision.retry_after.unwrap_or(Duration::from_secs(1)),
            }
        } else {
            AppError::TooManyRequests { decision, policy }
        });
    }
    let mut response = next.run(request).await;
    if !decision.degraded {
        // A fail-open decision knows nothing about the quota: say nothing rather
        // than advertise numbers we did not read.
        insert_quota_headers(response.headers_mut(), &decision, policy);
    }
    Ok(response)
}

/// Who the request counts against: `key:<api key>` or `ip:<peer address>`.
pub fn client_key(request: &Request) -> Result<String, AppError> {
    let mut keys = request.headers().get_all(API_KEY_HEADER).iter();
    if let Some(value) = keys.next() {
        if keys.next().is_some() {
            return Err(AppError::MalformedApiKey("more than one x-api-key header"));
        }
        let key = value
            .to_str()
            .map_err(|_| AppError::MalformedApiKey("x-api-key must be visible ASCII"))?;
        if key.is_empty() {
            return Err(AppError::MalformedApiKey("x-api-key is empty"));
        }
        if key.len() > MAX_API_KEY_LEN {
            return Err(AppError::MalformedApiKey(
                "x-api-key is longer than 64 characters",
            ));
        }
        if !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
        {
            return Err(AppError::MalformedApiKey(
                "x-api-key may only contain letters, digits and - _ . ~",
            ));
        }
        return Ok(format!("key:{key}"));
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => Ok(format!("ip:{}", peer.ip())),
        None => Err(AppError::Internal(
            "no client address: serve the router with into_make_service_with_connect_info::<SocketAddr>()".into(),
        )),
    }
}

/// `RateLimit-Policy: "default";q=<quota>;w=<window seconds>`.
pub fn policy_header(policy: Policy) -> HeaderValue {
    let value = format!(
        "\"{POLICY_NAME}\";q={};w={}",
        policy.quota,
        ceil_secs(policy.window).max(1)
    );
    HeaderValue::from_str(&value).expect("digits and a quoted token are a valid header value")
}

/// `RateLimit: "default";r=<remaining>;t=<seconds until full>`.
pub fn ratelimit_header(decision: &Decision) -> HeaderValue {
    let value = format!(
        "\"{POLICY_NAME}\";r={};t={}",
        decision.remaining,
        ceil_secs(decision.reset_after)
    );
    HeaderValue::from_str(&value).expect("digits and a quoted token are a valid header value")
}

fn insert_quota_headers(headers: &mut HeaderMap, decision: &Decision, policy: Policy) {
    headers.insert(RATELIMIT_POLICY.clone(), policy_header(policy));
    headers.insert(RATELIMIT.clone(), ratelimit_header(decision));
}

/// Whole seconds, rounded up: telling a client "0" when 300 ms remain invites an
/// immediate retry that will be refused.
fn ceil_secs(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
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
        let (status, kind, detail) = match &self {
            AppError::MalformedApiKey(why) => (
                StatusCode::BAD_REQUEST,
                "malformed-api-key",
                why.to_string(),
            ),
            AppError::TooManyRequests { decision, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                format!("quota of {} exhausted; retry later", decision.limit),
            ),
            AppError::LimiterUnavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "rate-limiter-unavailable",
                "the rate limiter cannot decide right now; retry later".to_string(),
            ),
            AppError::Internal(detail) => {
                // The detail is for operators, not clients.
                tracing::error!(%detail, "rate limiting middleware failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".to_string(),
                )
            }
        };
        // The title is the variant's, never its Display: `Internal`'s Display
        // carries the operator's detail.
        let title = match &self {
            AppError::MalformedApiKey(_) => "malformed API key",
            AppError::TooManyRequests { .. } => "rate limit exceeded",
            AppError::LimiterUnavailable { .. } => "rate limiting is temporarily unavailable",
            AppError::Internal(_) => "internal error",
        };
        let body = serde_json::json!({
            "type": format!("/problems/{kind}"),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        });
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            AppError::TooManyRequests { decision, policy } => {
                let wait = ceil_secs(decision.retry_after.unwrap_or(Duration::from_secs(1))).max(1);
                headers.insert(RETRY_AFTER, HeaderValue::from(wait));
                insert_quota_headers(headers, decision, *policy);
            }
            AppError::LimiterUnavailable { retry_after } => {
                headers.insert(
                    RETRY_AFTER,
                    HeaderValue::from(ceil_secs(*retry_after).max(1)),
                );
            }
            AppError::MalformedApiKey(_) | AppError::Internal(_) => {}
        }
        response
    }
}
