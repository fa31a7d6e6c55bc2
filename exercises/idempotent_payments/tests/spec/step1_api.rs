//! Step 1 — the API: create, fetch and list payments; every bad input is a
//! problem+json error with a stable `type`, and writes nothing.

use serde_json::json;

use crate::support::{OTHER_CLIENT, OTHER_SECRET, TestApp, TestRequest, TestResponse, payment};

async fn app_with_accounts() -> anyhow::Result<TestApp> {
    let app = TestApp::new().await?;
    app.account("acct_alice", "USD", 1_000_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    Ok(app)
}

/// A valid payment is created: 201, its representation, and where to find it.
#[tokio::test]
async fn step1_creating_a_payment_returns_201_with_the_payment_and_its_location()
-> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let response = app
        .pay("key-1", &payment(2_500, "acct_alice", "acct_bob"))
        .await;
    assert_eq!(
        response.status,
        201,
        "README step 1: a created payment is 201: {}",
        response.text()
    );
    let body = response.json();
    let id = body["id"]
        .as_str()
        .expect("the payment has an id")
        .to_string();
    assert_eq!(body["amount"], 2_500);
    assert_eq!(body["currency"], "USD");
    assert_eq!(
        (body["source"].as_str(), body["destination"].as_str()),
        (Some("acct_alice"), Some("acct_bob"))
    );
    assert_eq!(body["description"], "test");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(
        body["created"],
        crate::support::START_MS / 1000,
        "created is the service clock's time, in seconds"
    );
    assert_eq!(
        response.header("location"),
        Some(format!("/v1/payments/{id}").as_str())
    );
    assert_eq!(app.count("payments").await, 1);
    Ok(())
}

/// A payment can be fetched by id — by the client that made it, and nobody else.
#[tokio::test]
async fn step1_a_payment_is_fetched_by_id_and_only_by_its_client() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let created = app
        .pay("key-1", &payment(100, "acct_alice", "acct_bob"))
        .await
        .json();
    let id = created["id"].as_str().expect("an id");

    let fetched = app.get(&format!("/v1/payments/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), created, "GET returns what POST returned");

    let stranger = app
        .send(TestRequest::get(&format!("/v1/payments/{id}")).signed_by(OTHER_CLIENT, OTHER_SECRET))
        .await;
    assert_eq!(
        stranger.status, 404,
        "another client must not see this payment"
    );
    let missing = app.get("/v1/payments/pay_doesnotexist").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.problem_type(), "/problems/payment-not-found");
    Ok(())
}

/// Paging newest first with `starting_after` visits every payment exactly once,
/// even while new payments are created between pages (an OFFSET would repeat rows).
#[tokio::test]
async fn step1_pages_list_every_payment_once_newest_first_while_others_are_inserted()
-> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let mut created = Vec::new();
    for i in 0..25 {
        let body = app
            .pay(
                &format!("key-{i}"),
                &payment(100 + i, "acct_alice", "acct_bob"),
            )
            .await
            .json();
        created.push(body["id"].as_str().expect("an id").to_string());
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        let path = match &cursor {
            None => "/v1/payments?limit=10".to_string(),
            Some(last) => format!("/v1/payments?limit=10&starting_after={last}"),
        };
        let response = app.get(&path).await;
        assert_eq!(response.status, 200, "{}", response.text());
        let body = response.json();
        let ids: Vec<String> = body["data"]
            .as_array()
            .expect("data is a list")
            .iter()
            .map(|p| p["id"].as_str().expect("an id").to_string())
            .collect();
        assert!(ids.len() <= 10, "a page holds at most `limit` payments");
        seen.extend(ids.iter().cloned());
        // Others keep paying while we page.
        for j in 0..3 {
            app.pay(
                &format!("during-{page}-{j}"),
                &payment(1, "acct_alice", "acct_bob"),
            )
            .await;
        }
        if body["has_more"] != json!(true) {
            break;
        }
        cursor = ids.last().cloned();
        assert!(page < 10, "paging never ends");
    }
    let expected: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(
        seen, expected,
        "README step 1: pages hold the 25 payments that existed when paging began, newest first, \
         each exactly once — none repeated, none skipped"
    );
    Ok(())
}

/// The ids of a list's payments, in the order listed.
fn listed(response: &TestResponse) -> Vec<String> {
    response.json()["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|p| p["id"].as_str().expect("an id").to_string())
        .collect()
}

/// A client's list holds its own payments and nobody else's, and another
/// client's payment id is no cursor for it (422, like an unknown one): a
/// tenant never sees, nor learns of, another tenant's payments.
#[tokio::test]
async fn step1_a_client_lists_only_its_own_payments_and_pages_only_from_its_own()
-> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let mut ids = Vec::new();
    // client-a, client-b, client-a: the other client's payment lies between.
    for (i, other) in [false, true, false].into_iter().enumerate() {
        let mut request =
            TestRequest::post("/v1/payments", &payment(100, "acct_alice", "acct_bob"))
                .idempotency_key(&format!("key-{i}"));
        if other {
            request = request.signed_by(OTHER_CLIENT, OTHER_SECRET);
        }
        let created = app.send(request).await;
        assert_eq!(created.status, 201, "{}", created.text());
        ids.push(created.json()["id"].as_str().expect("an id").to_string());
    }
    let (mine, theirs) = (vec![ids[2].clone(), ids[0].clone()], ids[1].clone());

    let my_list = app.get("/v1/payments").await;
    assert_eq!(my_list.status, 200, "{}", my_list.text());
    assert_eq!(
        listed(&my_list),
        mine,
        "README step 1: client-a's list holds client-a's payments only, newest first \
         (client-b's {theirs} must not appear)"
    );
    let their_list = app
        .send(TestRequest::get("/v1/payments").signed_by(OTHER_CLIENT, OTHER_SECRET))
        .await;
    assert_eq!(their_list.status, 200, "{}", their_list.text());
    assert_eq!(
        listed(&their_list),
        vec![theirs.clone()],
        "README step 1: client-b's list holds client-b's payment only"
    );

    let from_mine = app
        .get(&format!("/v1/payments?starting_after={}", mine[0]))
        .await;
    assert_eq!(from_mine.status, 200, "{}", from_mine.text());
    assert_eq!(
        listed(&from_mine),
        vec![mine[1].clone()],
        "a client pages on from its own payment"
    );
    let across = [
        (
            "client-a paging from client-b's payment",
            TestRequest::get(&format!("/v1/payments?starting_after={theirs}")),
        ),
        (
            "client-b paging from client-a's payment",
            TestRequest::get(&format!("/v1/payments?starting_after={}", mine[0]))
                .signed_by(OTHER_CLIENT, OTHER_SECRET),
        ),
    ];
    for (what, request) in across {
        let response = app.send(request).await;
        assert_eq!(
            response.status,
            422,
            "README step 1: another client's payment id is an unknown cursor ({what}); a page \
             would tell the caller that the payment exists: {}",
            response.text()
        );
        assert_eq!(
            response.problem_type(),
            "/problems/invalid-request",
            "{what}"
        );
    }
    Ok(())
}

/// `has_more` is true exactly when a next page exists — a last page that is
/// exactly full says false — and every page size from 1 to 100 is accepted,
/// both ends included.
#[tokio::test]
async fn step1_has_more_is_true_exactly_when_a_next_page_exists() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    for i in 0..10 {
        let created = app
            .pay(
                &format!("key-{i}"),
                &payment(100 + i, "acct_alice", "acct_bob"),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
    }
    // (limit, payments on the page, has_more) over the 10 payments: around 10,
    // and at both ends of 1..=100.
    for (limit, rows, more) in [
        (1, 1, true),
        (9, 9, true),
        (10, 10, false),
        (11, 10, false),
        (100, 10, false),
    ] {
        let response = app.get(&format!("/v1/payments?limit={limit}")).await;
        assert_eq!(
            response.status,
            200,
            "README bad input: limit={limit} lies in 1..=100 and must be accepted: {}",
            response.text()
        );
        let body = response.json();
        assert_eq!(
            body["data"].as_array().map(Vec::len),
            Some(rows),
            "limit={limit} over 10 payments: a page holds {rows}"
        );
        assert_eq!(
            body["has_more"], more,
            "README step 1: limit={limit} over 10 payments: has_more must be {more}"
        );
    }

    // Two pages of five: the second is full, and it is the last.
    let first = app.get("/v1/payments?limit=5").await.json();
    assert_eq!(
        first["has_more"], true,
        "five more payments follow: {first}"
    );
    let cursor = first["data"][4]["id"]
        .as_str()
        .expect("a fifth payment on the first page")
        .to_string();
    let second = app
        .get(&format!("/v1/payments?limit=5&starting_after={cursor}"))
        .await;
    assert_eq!(second.status, 200, "{}", second.text());
    let second = second.json();
    assert_eq!(
        second["data"].as_array().map(Vec::len),
        Some(5),
        "the last five payments: {second}"
    );
    assert_eq!(
        second["has_more"], false,
        "README step 1: the page that holds the last payment says has_more: false, \
         even when it is exactly full (a client told true asks for an empty page)"
    );
    Ok(())
}

/// The limits themselves are accepted: an amount of exactly 10,000,000,000,
/// and a description of exactly 500 characters — characters, not bytes: 500
/// of a two-byte letter pass, 501 do not.
#[tokio::test]
async fn step1_the_largest_amount_and_a_500_character_description_are_accepted()
-> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    app.account("acct_rich", "USD", 10_000_000_000).await?;
    let largest = app
        .pay("largest", &payment(10_000_000_000, "acct_rich", "acct_bob"))
        .await;
    assert_eq!(
        largest.status,
        201,
        "README bad input: only an amount above 10,000,000,000 is refused; exactly that \
         much is accepted: {}",
        largest.text()
    );
    assert_eq!(largest.json()["amount"], 10_000_000_000_i64);

    let described = |text: String| {
        let mut body = payment(100, "acct_alice", "acct_bob");
        body["description"] = json!(text);
        body
    };
    let longest = app.pay("e-acute-500", &described("é".repeat(500))).await;
    assert_eq!(
        longest.status,
        201,
        "README bad input: a description of 500 characters is accepted, whatever its size \
         in bytes (500 'é' are 1,000 bytes): {}",
        longest.text()
    );
    assert_eq!(longest.json()["description"], "é".repeat(500));
    let over = app.pay("e-acute-501", &described("é".repeat(501))).await;
    assert_eq!(
        over.status,
        422,
        "README bad input: 501 characters are over the limit: {}",
        over.text()
    );
    assert_eq!(over.problem_type(), "/problems/invalid-request");
    Ok(())
}

/// A body that is not JSON, or not labelled as JSON, is 400 and writes nothing.
#[tokio::test]
async fn step1_malformed_json_is_400_and_writes_nothing() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    for body in [&b"{\"amount\": 10,"[..], b"not json", b""] {
        let response = app
            .send(
                TestRequest::post_raw("/v1/payments", body.to_vec())
                    .header("content-type", "application/json")
                    .idempotency_key("k"),
            )
            .await;
        assert_eq!(
            response.status,
            400,
            "body {:?}: {}",
            String::from_utf8_lossy(body),
            response.text()
        );
        assert_eq!(response.problem_type(), "/problems/malformed-json");
    }
    let as_text = app
        .send(
            TestRequest::post("/v1/payments", &payment(100, "acct_alice", "acct_bob"))
                .header("content-type", "text/plain")
                .idempotency_key("k"),
        )
        .await;
    assert_eq!(
        as_text.status,
        400,
        "JSON must be sent as application/json: {}",
        as_text.text()
    );
    assert_eq!(as_text.problem_type(), "/problems/malformed-json");
    assert_eq!(
        app.written().await,
        (0, 0, 0),
        "nothing may be written for a malformed request"
    );
    Ok(())
}

/// A body over the limit (16 KiB) is 413 and writes nothing.
#[tokio::test]
async fn step1_a_body_over_the_limit_is_413_and_writes_nothing() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let mut body = payment(100, "acct_alice", "acct_bob");
    body["description"] = json!("x".repeat(20 * 1024));
    let response = app
        .send(TestRequest::post("/v1/payments", &body).idempotency_key("k"))
        .await;
    assert_eq!(response.status, 413, "{}", response.text());
    assert_eq!(response.problem_type(), "/problems/body-too-large");
    assert_eq!(app.written().await, (0, 0, 0));
    Ok(())
}

/// Well-formed but invalid payments are 422 `invalid-request` and write nothing.
#[tokio::test]
async fn step1_invalid_payments_are_422_and_write_nothing() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let base = payment(100, "acct_alice", "acct_bob");
    let with = |field: &str, value: serde_json::Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let mut without_amount = base.clone();
    without_amount
        .as_object_mut()
        .expect("an object")
        .remove("amount");
    let cases = [
        ("zero amount", with("amount", json!(0))),
        ("negative amount", with("amount", json!(-5))),
        (
            "amount above the maximum",
            with("amount", json!(10_000_000_001_i64)),
        ),
        ("fractional amount", with("amount", json!(1.5))),
        ("unknown currency", with("currency", json!("XYZ"))),
        ("lowercase currency", with("currency", json!("usd"))),
        (
            "same source and destination",
            with("destination", json!("acct_alice")),
        ),
        (
            "description over 500 characters",
            with("description", json!("d".repeat(501))),
        ),
        ("missing amount", without_amount),
        ("unknown field", with("amount_in_dollars", json!(1))),
    ];
    for (i, (what, body)) in cases.iter().enumerate() {
        let response = app.pay(&format!("key-{i}"), body).await;
        assert_eq!(
            response.status,
            422,
            "{what}: expected 422, got {} {}",
            response.status,
            response.text()
        );
        assert_eq!(
            response.problem_type(),
            "/problems/invalid-request",
            "{what}"
        );
    }
    assert_eq!(
        app.written().await,
        (0, 0, 0),
        "nothing may be written for an invalid request"
    );
    Ok(())
}

/// A payment naming an account that does not exist is 404 and writes nothing.
#[tokio::test]
async fn step1_an_unknown_account_is_404_and_writes_nothing() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    for (i, body) in [
        payment(100, "acct_nobody", "acct_bob"),
        payment(100, "acct_alice", "acct_nobody"),
    ]
    .iter()
    .enumerate()
    {
        let response = app.pay(&format!("key-{i}"), body).await;
        assert_eq!(response.status, 404, "{}", response.text());
        assert_eq!(response.problem_type(), "/problems/account-not-found");
    }
    assert_eq!(app.written().await, (0, 0, 0));
    Ok(())
}

/// Listing with a limit outside 1..=100 or an unknown cursor is 422.
#[tokio::test]
async fn step1_bad_list_parameters_are_422() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    for path in [
        "/v1/payments?limit=0",
        "/v1/payments?limit=101",
        "/v1/payments?limit=ten",
        "/v1/payments?starting_after=pay_unknown",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status, 422, "{path}: {}", response.text());
        assert_eq!(
            response.problem_type(),
            "/problems/invalid-request",
            "{path}"
        );
    }
    Ok(())
}
