//! Step 5 — signed requests: who sent this, and is it the request they sent?
//!
//! Every request carries `X-Client-Id` and
//! `Lab-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, where each `v1` is
//! HMAC-SHA256, under one of the client's secrets, of
//!
//! ```text
//! <t> LF <METHOD> LF <path and query> LF <Idempotency-Key, or nothing> LF <body bytes>
//! ```
//!
//! What each part defends against:
//! * the **HMAC** — forgery and tampering: without the secret nobody can produce
//!   a valid signature, and changing one byte of method, path, key or body
//!   breaks it;
//! * the **timestamp** (±5 minutes) — replaying a captured request later;
//! * the **idempotency key, signed** — replaying it *within* those 5 minutes.
//!   Because the key is part of the signed bytes, a replay must carry the
//!   captured key, so it is answered from that key's stored response and never
//!   executed again. Were the key left out, an attacker could resend the
//!   captured body under a fresh key of their own and the service would run the
//!   payment a second time: the key would defend against honest retries only.
//!
//! Why line feeds between the fields: none of the first four can contain one
//! (HTTP forbids them in a request target and in header values), so two
//! different requests can never produce the same signed bytes. With `.` as the
//! separator a key containing a dot could trade bytes with the body: key `k`
//! with body `A.B` would sign the same bytes as key `k.A` with body `B`.
//!
//! The alternative to signing the key is to remember every accepted signature
//! for the tolerance window and refuse it a second time. That also closes the
//! hole, but costs a write on every request (reads included) and a second store
//! to clean; signing the key costs nothing, because the idempotency record is
//! already that store. It relies on one thing: a completed key is kept longer
//! than the tolerance (24 h against 5 minutes), so a valid signature never
//! outlives the record that answers its replay. (Retention counts from a key's
//! first use, so a key that finishes in the last five minutes of its 24 hours
//! falls short; production reaps by finishing time.)
//!
//! What they do not defend against: someone who steals a secret (rotate it; two
//! secrets may be active at once so rotation needs no downtime), someone who can
//! read the traffic (that is TLS's job — signatures do not hide anything), and a
//! GET replayed within the window (reads are safe to repeat).
//!
//! Comparison is constant-time (`Mac::verify_slice`): comparing byte by byte and
//! stopping at the first difference would tell an attacker, through timing, how
//! many leading bytes of a forged signature were right.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::app::AppState;
use crate::error::AppError;
use crate::idempotency;

pub const CLIENT_HEADER: &str = "x-client-id";
pub const SIGNATURE_HEADER: &str = "lab-signature";

/// The bytes a signature covers; `idempotency_key` is the header's exact bytes,
/// empty when there is none (reads carry no key).
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

/// Hex HMAC-SHA256 of `payload` under `secret` (what a client puts in `v1=`).
pub fn sign(secret: &str, payload: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// The middleware: reject (401) anything unsigned, stale or forged.
pub async fn verify(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let client = request
        .headers()
        .get(CLIENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(AppError::Unauthenticated(
            "the X-Client-Id header is missing",
        ))?
        .to_string();
    let secrets = state
        .config
        .clients
        .get(&client)
        .ok_or(AppError::Unauthenticated("unknown client"))?
        .clone();
    let header = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(AppError::Unauthenticated(
            "the Lab-Signature header is missing",
        ))?;
    let (timestamp, signatures) = parse_header(header)?;

    let now = state.clock.now_ms() / 1000;
    let tolerance = i64::try_from(state.config.signature_tolerance.as_secs()).unwrap_or(i64::MAX);
    if (now - timestamp).abs() > tolerance {
        return Err(AppError::Unauthenticated(
            "the signature's timestamp is outside the allowed window",
        ));
    }

    // The signature covers the exact bytes, so the body has to be read here (and
    // put back for the handler). The body limit applies to this read too.
    let (parts, body) = request.into_parts();
    let bytes =
        to_bytes(body, state.config.body_limit)
            .await
            .map_err(|_| AppError::BodyTooLarge {
                limit: state.config.body_limit,
            })?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    // The same header the idempotency layer reads (the first, if repeated).
    let key = parts
        .headers
        .get(idempotency::HEADER)
        .map_or(&[][..], |v| v.as_bytes());
    let payload = signed_payload(timestamp, parts.method.as_str(), path, key, &bytes);

    let valid = secrets.iter().any(|secret| {
        signatures.iter().any(|candidate| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(&payload);
            mac.verify_slice(candidate).is_ok()
        })
    });
    if !valid {
        return Err(AppError::Unauthenticated(
            "the signature does not match the request",
        ));
    }
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// `t=<int>,v1=<hex>[,v1=<hex>…]`; unknown schemes are ignored (room to add `v2`).
fn parse_header(header: &str) -> Result<(i64, Vec<Vec<u8>>), AppError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(AppError::Unauthenticated(
        "the Lab-Signature header has no valid t=",
    ))?;
    if signatures.is_empty() {
        return Err(AppError::Unauthenticated(
            "the Lab-Signature header has no v1= signature",
        ));
    }
    Ok((timestamp, signatures))
}
