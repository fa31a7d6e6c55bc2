//! Step 1, hidden — errors: a database the service cannot reach is the
//! service's unavailability (503), not its bug (500), and the client learns
//! nothing of the cause.

use std::time::Duration;

use idempotent_payments::AppState;

use crate::support::{TestApp, TestRequest, payment};

/// A pool on a loopback port nothing listens on: every connection is refused,
/// and every acquire waits out its (short) timeout — what the service sees when
/// its database is unreachable. Also returns the address, to check it is not
/// shown to the client.
fn unreachable_pool() -> anyhow::Result<(sqlx::PgPool, String)> {
    let address = {
        // Bound for a moment to get a free port, then closed: nothing listens there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy(&format!("postgres://postgres@{address}/unreachable"))?;
    Ok((pool, address.to_string()))
}

/// An unreachable database (the pool times out) is 503 `/problems/unavailable`
/// on every endpoint, and the body carries no detail of the cause.
#[tokio::test]
async fn step1_an_unreachable_database_is_503_unavailable_and_its_cause_is_not_sent()
-> anyhow::Result<()> {
    let mut app = TestApp::new().await?;
    // The same app, clock and config, but its database is out of reach.
    let (pool, address) = unreachable_pool()?;
    let state = AppState::new(pool, app.clock.clone(), (*app.state.config).clone());
    app.router = idempotent_payments::router(state.clone());
    app.state = state;

    let cases = [
        (
            "creating a payment",
            TestRequest::post("/v1/payments", &payment(100, "acct_alice", "acct_bob"))
                .idempotency_key("unreachable"),
        ),
        ("listing payments", TestRequest::get("/v1/payments")),
        (
            "fetching a payment",
            TestRequest::get("/v1/payments/pay_anything"),
        ),
        (
            "reading an account",
            TestRequest::get("/v1/accounts/acct_alice"),
        ),
    ];
    for (what, request) in cases {
        let response = app.send(request).await;
        assert_eq!(
            response.status,
            503,
            "README bad input: database unreachable (pool timeout) is 503, not a 500 — the \
             client may retry later ({what}): {}",
            response.text()
        );
        assert_eq!(response.problem_type(), "/problems/unavailable", "{what}");
        let text = response.text().to_lowercase();
        for leak in ["pool", "timed out", address.as_str()] {
            assert!(
                !text.contains(leak),
                "README bad input: a 503's detail is logged, not sent ({what} showed {leak:?}): \
                 {text}"
            );
        }
    }
    Ok(())
}
