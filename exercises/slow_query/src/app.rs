//! Step 4: `GET /customers/{id}/orders?limit=&cursor=`.
//!
//! Every input is checked before any SQL runs, and every bad one is the
//! client's 400 (problem+json, through [`AppError`]), never a 500; the table
//! of inputs and answers is in README step 4.

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

/// Check the id, `limit` and `cursor` as the table in README step 4 says,
/// then answer with [`pages::page`]. The raw id and the raw query pairs are
/// taken as they come, so that every rejection is yours to turn into the
/// right [`AppError`] (axum's own would be a plain-text 400).
async fn list_orders(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<PageBody>, AppError> {
    // TODO(step 4): the customer id (a positive integer), then each query pair: only limit
    //     and cursor, each at most once; limit 1..=MAX_LIMIT (DEFAULT_LIMIT if absent); the
    //     cursor decoded for this customer with state.key. Then the page, and its next cursor.
    todo!("step 4: list_orders — see README step 4")
}
