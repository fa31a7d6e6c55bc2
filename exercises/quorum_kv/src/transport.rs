// PROVIDED: read it, do not change it.
//! How one node talks to another's replica API, each call bounded.
//!
//! `peers[i]` is the base URL at which *this* node reaches node `i`. Between
//! nodes it is a link through a fault proxy, so a test can cut, stall or slow
//! exactly the path from this node to that one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::KvError;
use crate::version::Version;

/// The body of `POST /replica/{key}`: versions to merge, or, with `hint_for`,
/// versions to keep for another replica (hinted handoff).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoreRequest {
    pub versions: Vec<Version>,
    #[serde(default)]
    pub hint_for: Option<usize>,
}

/// The body of `GET /replica/{key}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Held {
    pub versions: Vec<Version>,
}

fn replica_error(node: usize, base: &str, detail: impl ToString) -> KvError {
    KvError::Replica {
        node,
        addr: base.to_string(),
        detail: detail.to_string(),
    }
}

/// Ask node `node` (at `base`) to store `versions` of `key`, or to keep them
/// as a hint for `hint_for`. `Ok` means the node committed them.
pub async fn store(
    http: &reqwest::Client,
    node: usize,
    base: &str,
    key: &str,
    request: &StoreRequest,
    timeout: Duration,
) -> Result<(), KvError> {
    let call = http
        .post(format!("{base}/replica/{key}"))
        .json(request)
        .timeout(timeout)
        .send();
    let response = call.await.map_err(|e| replica_error(node, base, e))?;
    if !response.status().is_success() {
        return Err(replica_error(node, base, response.status()));
    }
    Ok(())
}

/// The versions node `node` (at `base`) holds for `key`.
pub async fn fetch(
    http: &reqwest::Client,
    node: usize,
    base: &str,
    key: &str,
    timeout: Duration,
) -> Result<Vec<Version>, KvError> {
    let call = http
        .get(format!("{base}/replica/{key}"))
        .timeout(timeout)
        .send();
    let response = call.await.map_err(|e| replica_error(node, base, e))?;
    if !response.status().is_success() {
        return Err(replica_error(node, base, response.status()));
    }
    let held: Held = response
        .json()
        .await
        .map_err(|e| replica_error(node, base, e))?;
    Ok(held.versions)
}
