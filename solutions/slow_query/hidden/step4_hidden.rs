//! Step 4, hidden: the cursor's key and the default page size.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use slow_query::{AppState, Cursor, CursorKey, DEFAULT_LIMIT, router, schema};
use tower::ServiceExt;

use crate::support::Lab;

async fn get(app: axum::Router, path: &str) -> anyhow::Result<(StatusCode, serde_json::Value)> {
    let response = app.oneshot(Request::get(path).body(Body::empty())?).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap_or_default()))
}

/// A cursor issued by a server with one key is refused by a server with
/// another: the signature depends on the key, not only on the content.
#[tokio::test]
async fn step4_hidden_a_cursor_from_a_server_with_another_key_is_refused() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let one = AppState {
        pool: lab.pool().clone(),
        key: CursorKey::new(*b"the first server's key, 32 bytes"),
    };
    let two = AppState {
        pool: lab.pool().clone(),
        key: CursorKey::new(*b"the other server's key, 32 bytes"),
    };
    let (status, json) = get(router(one), "/customers/1/orders?limit=5").await?;
    assert_eq!(status, StatusCode::OK);
    let cursor = json["next_cursor"]
        .as_str()
        .expect("the whale has a next page")
        .to_string();
    let (status, json) = get(router(two), &format!("/customers/1/orders?cursor={cursor}")).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "README step 4: {json}");
    assert_eq!(json["type"].as_str(), Some("/problems/invalid-cursor"));
    Ok(())
}

/// Without `limit`, a page holds exactly the default number of orders.
#[tokio::test]
async fn step4_hidden_without_a_limit_a_page_holds_the_default() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let state = AppState {
        pool: lab.pool().clone(),
        key: CursorKey::new(*b"hidden test key of 32 bytes long"),
    };
    let (status, json) = get(
        router(state),
        &format!("/customers/{}/orders", schema::WHALE),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json["orders"].as_array().map(Vec::len),
        Some(DEFAULT_LIMIT as usize)
    );
    assert_eq!(
        DEFAULT_LIMIT, 20,
        "README step 4: the default page is 20 orders"
    );
    let key = CursorKey::new(*b"hidden test key of 32 bytes long");
    let text = Cursor {
        customer_id: 1,
        created_at_us: 0,
        id: 0,
    }
    .encode(&key);
    assert!(Cursor::decode(&text, &key, 1).is_ok());
    Ok(())
}
