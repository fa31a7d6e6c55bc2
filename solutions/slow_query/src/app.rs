//! Step 4: `GET /customers/{id}/orders?limit=&cursor=`.
//!
//! Every input is checked before any SQL runs, and every bad one is the
//! client's 400 (problem+json, logged at DEBUG), never a 500:
//!
//! | input                                   | answer                               |
//! |-----------------------------------------|--------------------------------------|
//! | id not a positive integer               | 400 `/problems/invalid-customer`     |
//! | `limit` missing                         | 20 rows                              |
//! | `limit` not a whole number in 1..=100   | 400 `/problems/invalid-limit`        |
//! | `cursor` malformed, changed, or another customer's | 400 `/problems/invalid-cursor` |
//! | a parameter unknown or repeated           | 400 `/problems/invalid-query` |
//!
//! An unknown parameter is refused rather than ignored: `?limt=5` silently
//! answering 20 rows is a bug the client never hears about.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::PgPool;

use crate::cursor::{Cursor, CursorKey};
use crate::error::AppError;
use crate::list_view::ListRow;
use crate::pages;

/// Rows per page when the client does not say.
pub const DEFAULT_LIMIT: i64 = 20;
/// The most rows a client may ask for in one page.
pub const MAX_LIMIT: i64 = 100;

#[derive(Clone, Debug)]
pub struct AppState {
    pub pool: PgPool,
    pub key: CursorKey,
}

/// The body of a page.
#[derive(Debug, serde::Serialize)]
pub struct PageBody {
    pub orders: Vec<ListRow>,
    /// Pass it back as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/customers/{id}/orders", get(list_orders))
        .with_state(state)
}

async fn list_orders(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<PageBody>, AppError> {
    let customer_id = parse_customer(&raw_id)?;
    let Query(pairs) = query.map_err(|e| AppError::InvalidQuery(e.body_text()))?;
    let (limit, cursor) = parse_query(&pairs)?;
    let after = cursor
        .map(|text| Cursor::decode(text, &state.key, customer_id))
        .transpose()
        .map_err(|e| AppError::InvalidCursor(e.to_string()))?;
    let page = pages::page(&state.pool, customer_id, after.as_ref(), limit).await?;
    Ok(Json(PageBody {
        orders: page.orders,
        next_cursor: page.next.map(|c| c.encode(&state.key)),
    }))
}

fn parse_customer(raw: &str) -> Result<i64, AppError> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(AppError::InvalidCustomer(format!(
            "{raw:?} is not a customer id (a positive integer)"
        ))),
    }
}

/// `(limit, cursor)` from the query string's pairs.
fn parse_query(pairs: &[(String, String)]) -> Result<(i64, Option<&str>), AppError> {
    let mut limit = None;
    let mut cursor = None;
    for (name, value) in pairs {
        let slot = match name.as_str() {
            "limit" => &mut limit,
            "cursor" => &mut cursor,
            other => {
                return Err(AppError::InvalidQuery(format!(
                    "unknown parameter {other:?} (use limit and cursor)"
                )));
            }
        };
        if slot.replace(value.as_str()).is_some() {
            return Err(AppError::InvalidQuery(format!("{name} given twice")));
        }
    }
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(AppError::InvalidLimit(format!(
                    "limit {text:?}: use a whole number from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    Ok((limit, cursor))
}
