//! Step 5 — signed requests.
//!
//! Every request carries `X-Client-Id` and
//! `Lab-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`; each `v1` is
//! HMAC-SHA256, under one of the client's active secrets, of
//! `<t> LF <METHOD> LF <path and query> LF <Idempotency-Key> LF <body bytes>`
//! (see [`signed_payload`], provided). Refuse (401) a missing or
//! unknown client, a missing or malformed header, a timestamp more than
//! `signature_tolerance` from now, or no matching signature. Compare in
//! constant time.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::AppState;
use crate::error::AppError;

pub const CLIENT_HEADER: &str = "x-client-id";
pub const SIGNATURE_HEADER: &str = "lab-signature";

/// The bytes a signature covers (provided); `idempotency_key` is the header's
/// exact bytes, empty when there is none. README step 5 says why the key is
/// signed, and why the fields are separated by line feeds.
pub fn signed_payload(
    timestamp: i64,
    method: &str,
    path_and_query: &str,
    idempotency_key: &[u8],
    body: &[u8],
) -> Vec<u8> {
    let mut payload = format!("{timestamp}\n{method}\n{path_and_query}\n").into_bytes();
    payload.extend_from_slice(idempotency_key);
    payload.push(b'\n');
    payload.extend_from_slice(body);
    payload
}

/// Hex HMAC-SHA256 of `payload` under `secret`.
pub fn sign(secret: &str, payload: &[u8]) -> String {
    // TODO(step 5)
    todo!("step 5: signing::sign — see README step 5")
}

/// The middleware: reject (401) anything unsigned, stale or forged; pass the
/// request on with its body intact otherwise.
pub async fn verify(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    // TODO(step 5)
    todo!("step 5: signing::verify — see README step 5")
}
