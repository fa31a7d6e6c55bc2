//! Step 4: the next page costs what the first one did.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use slow_query::offset::{OFFSET_PAGE_SQL, offset_page};
use slow_query::{
    AppState, Cursor, CursorError, CursorKey, MAX_LIMIT, Page, Param, first_page_sql,
    list_view_index, next_page_sql, page, router, schema,
};
use tower::ServiceExt;
use tracing::instrument::WithSubscriber;

use crate::support::Lab;

fn key() -> CursorKey {
    CursorKey::new(*b"step 4 test key, 32 bytes long!!")
}

/// A customer of the test's own: `tied` orders at one instant, then `older`
/// orders a second earlier. Returns every id, newest first.
async fn customer_with_ties(
    lab: &Lab,
    customer: i64,
    tied: i64,
    older: i64,
) -> anyhow::Result<Vec<i64>> {
    let old = lab
        .insert_orders(customer, older, 1_800_000_000_123_457)
        .await?;
    let new = lab
        .insert_orders(customer, tied, 1_800_000_001_654_321)
        .await?;
    Ok(new.iter().rev().chain(old.iter().rev()).copied().collect())
}

/// Every page of `customer`, following `next` until there is none.
async fn walk(lab: &Lab, customer: i64, limit: i64) -> anyhow::Result<Vec<Page>> {
    let mut pages = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let current = page(lab.pool(), customer, after.as_ref(), limit).await?;
        after = current.next;
        pages.push(current);
        anyhow::ensure!(pages.len() < 1_000, "README step 4: pages never end");
        if after.is_none() {
            return Ok(pages);
        }
    }
}

fn ids(pages: &[Page]) -> Vec<i64> {
    pages
        .iter()
        .flat_map(|p| p.orders.iter().map(|o| o.id))
        .collect()
}

/// 25 orders share one instant: pages of 10 across the tie return each of
/// the 30 orders exactly once, newest first, ties newest id first.
#[tokio::test]
async fn step4_pages_across_a_tie_neither_skip_nor_repeat_a_row() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let expected = customer_with_ties(&lab, 8_000_010, 25, 5).await?;
    let pages = walk(&lab, 8_000_010, 10).await?;
    assert_eq!(
        ids(&pages),
        expected,
        "README step 4: the keyset must be (created_at, id) and the comparison strict: \
         a cursor on created_at alone skips the rest of a tie, <= repeats a row"
    );
    assert_eq!(
        pages.iter().map(|p| p.orders.len()).collect::<Vec<_>>(),
        [10, 10, 10]
    );
    Ok(())
}

/// The last page says it is the last: 20 orders in pages of 10 are two
/// pages, the second without a next cursor; 21 are three, the last of one.
#[tokio::test]
async fn step4_the_last_page_has_no_next_cursor() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    for (customer, count, sizes) in [
        (8_000_020, 20, vec![10, 10]),
        (8_000_021, 21, vec![10, 10, 1]),
        (8_000_022, 9, vec![9]),
    ] {
        let expected = customer_with_ties(&lab, customer, count, 0).await?;
        let pages = walk(&lab, customer, 10).await?;
        assert_eq!(
            pages.iter().map(|p| p.orders.len()).collect::<Vec<_>>(),
            sizes,
            "README step 4: {count} orders in pages of 10 (no empty page at the end)"
        );
        assert_eq!(ids(&pages), expected);
        assert!(pages.last().is_some_and(|p| p.next.is_none()));
        assert!(pages.iter().rev().skip(1).all(|p| p.next.is_some()));
    }
    let none = page(lab.pool(), schema::NEW_CUSTOMER, None, 10).await?;
    assert_eq!((none.orders.len(), none.next), (0, None));
    Ok(())
}

/// Orders placed while a client pages are newer than its cursor: page 2 is
/// exactly what it would have been (where OFFSET repeats rows).
#[tokio::test]
async fn step4_orders_placed_between_two_pages_never_shift_the_next_page() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let customer = 8_000_030;
    let expected = customer_with_ties(&lab, customer, 10, 20).await?;
    let first = page(lab.pool(), customer, None, 10).await?;
    let by_offset_before = offset_page(lab.pool(), customer, 1, 10).await?;
    lab.insert_orders(customer, 3, 1_800_000_009_000_001)
        .await?;
    let second = page(lab.pool(), customer, first.next.as_ref(), 10).await?;
    assert_eq!(
        second.orders.iter().map(|o| o.id).collect::<Vec<_>>(),
        expected[10..20],
        "README step 4: page 2 after three new orders must continue where page 1 ended"
    );
    let by_offset_after = offset_page(lab.pool(), customer, 1, 10).await?;
    assert_ne!(
        by_offset_before, by_offset_after,
        "OFFSET pages shift when rows arrive"
    );
    Ok(())
}

/// Page 1,000 of the whale costs the pages page 1 costs, and neither sorts;
/// the OFFSET version of page 1,000 costs far more.
#[tokio::test]
async fn step4_page_1000_costs_what_page_1_costs() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    lab.create_index(&list_view_index()).await?;
    lab.vacuum().await?;
    let whale = Param::BigInt(schema::WHALE);
    // The position after row 9,999 (page 1,000's cursor), asked of Postgres.
    let (micros, id): (i64, i64) = sqlx::query_as(
        "SELECT (extract(epoch FROM created_at) * 1000000)::bigint, id FROM orders
          WHERE customer_id = $1 ORDER BY created_at DESC, id DESC OFFSET 9999 LIMIT 1",
    )
    .bind(schema::WHALE)
    .fetch_one(lab.pool())
    .await?;
    let page1 = lab
        .plan(first_page_sql(), &[whale.clone(), Param::BigInt(11)])
        .await?;
    let page1000 = lab
        .plan(
            next_page_sql(),
            &[
                whale.clone(),
                Param::BigInt(micros),
                Param::BigInt(id),
                Param::BigInt(11),
            ],
        )
        .await?;
    let offset = lab
        .plan(
            OFFSET_PAGE_SQL,
            &[whale, Param::BigInt(10), Param::BigInt(9_990)],
        )
        .await?;
    for (plan, which) in [(&page1, "page 1"), (&page1000, "page 1,000")] {
        assert!(
            !plan.sorts(),
            "README step 4: {which} sorts: {}",
            plan.describe()
        );
    }
    assert!(
        page1000.blocks() <= page1.blocks() + 3,
        "README step 4: page 1,000 touched {} pages, page 1 {}: the cursor must be an Index \
         Cond (a row comparison), not a Filter or an OFFSET; page 1,000: {}",
        page1000.blocks(),
        page1.blocks(),
        page1000.describe()
    );
    assert!(
        offset.blocks() > 10 * page1.blocks(),
        "the OFFSET version reads and throws away 9,990 rows: {}",
        offset.describe()
    );
    Ok(())
}

/// A cursor comes back as it was made, for its customer, with the same key.
#[test]
fn step4_a_cursor_round_trips() {
    let cursor = Cursor {
        customer_id: 42,
        created_at_us: 1_800_000_000_123_456,
        id: 7,
    };
    let text = cursor.encode(&key());
    assert!(
        text.len() <= 200
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)),
        "README step 4: a cursor must be short and URL-safe: {text:?}"
    );
    assert_eq!(Cursor::decode(&text, &key(), 42), Ok(cursor));
    let negative = Cursor {
        customer_id: 42,
        created_at_us: -1,
        id: i64::MAX,
    };
    assert_eq!(
        Cursor::decode(&negative.encode(&key()), &key(), 42),
        Ok(negative)
    );
}

/// Changing any one character of a cursor, or signing it with another key,
/// is detected; another customer's cursor is refused as such.
#[test]
fn step4_a_changed_forged_or_borrowed_cursor_is_refused() {
    let cursor = Cursor {
        customer_id: 42,
        created_at_us: 1_800_000_000_123_456,
        id: 7,
    };
    let text = cursor.encode(&key());
    let refused = |changed: &str| {
        matches!(
            Cursor::decode(changed, &key(), 42),
            Err(CursorError::BadSignature | CursorError::Malformed)
        )
    };
    for i in 0..text.len() {
        let original = text.as_bytes()[i];
        // Another digit, another letter, and the same character in the other case.
        for replacement in [
            b'0',
            b'1',
            b'a',
            b'z',
            b'-',
            original.to_ascii_uppercase(),
            original.to_ascii_lowercase(),
        ] {
            if replacement == original {
                continue;
            }
            let mut bytes = text.clone().into_bytes();
            bytes[i] = replacement;
            let changed = String::from_utf8(bytes).expect("ASCII");
            assert!(
                refused(&changed),
                "README step 4: the cursor with character {i} changed to {:?} was accepted: \
                 sign all of it, and accept only the exact form encode makes",
                replacement as char
            );
        }
    }
    // Shortened by whole bytes (so still even, still hex): a shorter MAC is
    // easier to guess, and must be refused, not checked as far as it goes.
    for cut in [2, 4, 16] {
        assert!(
            refused(&text[..text.len() - cut]),
            "README step 4: the cursor without its last {cut} characters was accepted"
        );
    }
    let other_key = CursorKey::new(*b"another key, also 32 bytes long!");
    assert_eq!(
        Cursor::decode(&cursor.encode(&other_key), &key(), 42),
        Err(CursorError::BadSignature)
    );
    assert_eq!(
        Cursor::decode(&text, &key(), 43),
        Err(CursorError::WrongCustomer)
    );
}

/// Text that no encode could have produced is `Malformed`, whatever its size.
#[test]
fn step4_a_malformed_cursor_is_refused() {
    let good = Cursor {
        customer_id: 1,
        created_at_us: 2,
        id: 3,
    }
    .encode(&key());
    for bad in [
        String::new(),
        "not a cursor".to_string(),
        good[..good.len() - 1].to_string(),
        format!("{good}0"),
        "é".repeat(good.len() / 2),
        "x".repeat(10_000),
    ] {
        assert_eq!(
            Cursor::decode(&bad, &key(), 1),
            Err(CursorError::Malformed),
            "README step 4: {:?}…",
            &bad.chars().take(20).collect::<String>()
        );
    }
}

/// A GET of the API, answered in-process, with everything the handler logged.
async fn get(lab: &Lab, path: &str) -> anyhow::Result<(StatusCode, String, Value, String)> {
    let app = router(AppState {
        pool: lab.pool().clone(),
        key: key(),
    });
    let (dispatch, logs) = labkit::capture_logs();
    let response = app
        .oneshot(Request::get(path).body(Body::empty())?)
        .with_subscriber(dispatch)
        .await?;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.into_body().collect().await?.to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    anyhow::ensure!(
        !logs.text().contains("ERROR") && !logs.text().contains("WARN"),
        "README step 4: GET {path} logged a warning or an error (bad input is the client's \
         mistake: DEBUG at most): {}",
        logs.text()
    );
    Ok((
        status,
        content_type,
        json,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

/// The API walks a customer's orders page by page through `next_cursor`,
/// each exactly once, and the last page's `next_cursor` is null.
#[tokio::test]
async fn step4_the_api_pages_through_a_customer_with_its_cursor() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let expected = customer_with_ties(&lab, 8_000_040, 15, 10).await?;
    let mut seen = Vec::new();
    let mut path = "/customers/8000040/orders?limit=10".to_string();
    for _ in 0..10 {
        let (status, _, json, text) = get(&lab, &path).await?;
        assert_eq!(status, StatusCode::OK, "README step 4: GET {path}: {text}");
        seen.extend(
            json["orders"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o["id"].as_i64()),
        );
        match json["next_cursor"].as_str() {
            Some(cursor) => path = format!("/customers/8000040/orders?limit=10&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen, expected,
        "README step 4: every order once, newest first"
    );
    let (_, _, first, _) = get(&lab, "/customers/8000040/orders?limit=1").await?;
    let order = &first["orders"][0];
    assert_eq!(order["id"].as_i64(), Some(expected[0]));
    for field in ["created_at_us", "status", "total_cents", "currency"] {
        assert!(
            !order[field].is_null(),
            "README step 4: each order has {field}: {order}"
        );
    }
    Ok(())
}

/// `limit` from 1 to the maximum is served; the boundaries on both sides.
#[tokio::test]
async fn step4_limits_from_1_to_the_maximum_are_served() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    assert_eq!(MAX_LIMIT, 100, "README step 4: the maximum is 100");
    for limit in [1, 2, 99, 100] {
        let (status, _, json, text) =
            get(&lab, &format!("/customers/1/orders?limit={limit}")).await?;
        assert_eq!(
            status,
            StatusCode::OK,
            "README step 4: limit={limit}: {text}"
        );
        assert_eq!(
            json["orders"].as_array().map(Vec::len),
            Some(limit as usize),
            "README step 4: the whale has more than {limit} orders"
        );
    }
    // A query string as clients write it: a bare `?`, a trailing `&`, a
    // percent-encoded name; and a customer id past 2^31 (ids are i64).
    for (path, rows) in [
        ("/customers/1/orders?", 20),
        ("/customers/1/orders?limit=5&", 5),
        ("/customers/1/orders?%6Cimit=3", 3),
        ("/customers/3000000000/orders?limit=5", 0),
    ] {
        let (status, _, json, text) = get(&lab, path).await?;
        assert_eq!(status, StatusCode::OK, "README step 4: GET {path}: {text}");
        assert_eq!(
            json["orders"].as_array().map(Vec::len),
            Some(rows),
            "README step 4: GET {path}"
        );
    }
    Ok(())
}

/// Every bad input of the README's table is a 400 problem+json of its own
/// type, and none is logged as a server error.
#[tokio::test]
async fn step4_bad_input_is_a_400_problem_never_a_server_error() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    let mine = Cursor {
        customer_id: 5,
        created_at_us: 1_800_000_000_000_000,
        id: 10,
    }
    .encode(&key());
    let mut tampered = mine.clone().into_bytes();
    tampered[20] = if tampered[20] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered)?;
    let cases = [
        ("/customers/abc/orders", "/problems/invalid-customer"),
        ("/customers/0/orders", "/problems/invalid-customer"),
        ("/customers/-5/orders", "/problems/invalid-customer"),
        ("/customers/1.5/orders", "/problems/invalid-customer"),
        (
            "/customers/99999999999999999999/orders",
            "/problems/invalid-customer",
        ),
        ("/customers/5/orders?limit=0", "/problems/invalid-limit"),
        ("/customers/5/orders?limit=101", "/problems/invalid-limit"),
        ("/customers/5/orders?limit=-1", "/problems/invalid-limit"),
        ("/customers/5/orders?limit=ten", "/problems/invalid-limit"),
        ("/customers/5/orders?limit=", "/problems/invalid-limit"),
        ("/customers/5/orders?limit=2.5", "/problems/invalid-limit"),
        ("/customers/5/orders?cursor=", "/problems/invalid-cursor"),
        (
            "/customers/5/orders?cursor=garbage",
            "/problems/invalid-cursor",
        ),
        (
            &*format!("/customers/5/orders?cursor={tampered}"),
            "/problems/invalid-cursor",
        ),
        (
            &*format!("/customers/6/orders?cursor={mine}"),
            "/problems/invalid-cursor",
        ),
        (
            &*format!("/customers/5/orders?cursor={}", "f".repeat(10_000)),
            "/problems/invalid-cursor",
        ),
        ("/customers/5/orders?limt=5", "/problems/invalid-query"),
        (
            "/customers/5/orders?limit=5&limit=6",
            "/problems/invalid-query",
        ),
        (
            &*format!("/customers/5/orders?cursor={mine}&cursor={mine}"),
            "/problems/invalid-query",
        ),
    ];
    for (path, problem) in cases {
        let (status, content_type, json, text) = get(&lab, path).await?;
        let shown = &path[..path.len().min(80)];
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "README step 4: GET {shown}: {text}"
        );
        assert_eq!(content_type, "application/problem+json", "GET {shown}");
        assert_eq!(
            json["type"].as_str(),
            Some(problem),
            "README step 4: GET {shown}: {text}"
        );
        assert_eq!(json["status"].as_u64(), Some(400), "GET {shown}: {text}");
    }
    let (status, _, _, text) =
        get(&lab, &format!("/customers/5/orders?cursor={mine}&limit=3")).await?;
    assert_eq!(
        status,
        StatusCode::OK,
        "its own customer's cursor is fine: {text}"
    );
    Ok(())
}

/// A database failure is a 500 that tells the client nothing of its cause.
#[tokio::test]
async fn step4_a_database_failure_is_a_500_without_details() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    sqlx::query("ALTER TABLE orders RENAME TO orders_gone")
        .execute(lab.pool())
        .await?;
    let app = router(AppState {
        pool: lab.pool().clone(),
        key: key(),
    });
    let response = app
        .oneshot(Request::get("/customers/1/orders").body(Body::empty())?)
        .await?;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body =
        String::from_utf8_lossy(&response.into_body().collect().await?.to_bytes()).into_owned();
    let json: Value = serde_json::from_str(&body)?;
    assert_eq!(json["type"].as_str(), Some("/problems/internal"), "{body}");
    assert!(
        !body.contains("orders") && !body.contains("relation"),
        "README step 4: a 500 must not tell the client what failed inside: {body}"
    );
    Ok(())
}

/// The same API over a real socket.
#[tokio::test]
async fn step4_the_api_answers_over_a_real_socket() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    customer_with_ties(&lab, 8_000_050, 3, 0).await?;
    let server = labkit::http::TestServer::start(router(AppState {
        pool: lab.pool().clone(),
        key: key(),
    }))
    .await?;
    let response = server.get("/customers/8000050/orders?limit=2", &[]).await?;
    assert_eq!(response.status, 200, "{}", response.text());
    let json: Value = serde_json::from_str(&response.text())?;
    assert_eq!(json["orders"].as_array().map(Vec::len), Some(2));
    assert!(json["next_cursor"].is_string());
    Ok(())
}
