//! Bounded waiting. Every external await in a test goes through one of these,
//! so that a dead service produces an error that says what was awaited and where,
//! instead of a test that hangs until CI kills it.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// Await `fut` for at most `limit`; on timeout the error names `what`.
///
/// ```no_run
/// # async fn demo(redis: &labkit::TestRedis) -> anyhow::Result<()> {
/// use std::time::Duration;
/// let mut conn = redis.connection().await?;
/// let pong: String = labkit::within(
///     Duration::from_secs(5),
///     format!("PING to {}", redis.endpoint().describe()),
///     redis::cmd("PING").query_async(&mut conn),
/// )
/// .await??;
/// # Ok(()) }
/// ```
pub async fn within<T>(
    limit: Duration,
    what: impl Display,
    fut: impl Future<Output = T>,
) -> anyhow::Result<T> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| anyhow::anyhow!("timed out after {limit:?} waiting for {what}"))
}

/// Poll `check` until it returns `Ok(true)`, for at most `limit`.
///
/// This replaces "sleep and hope": the test proceeds as soon as the condition
/// holds and fails with `what` if it never does. Polls start at 5 ms and back off
/// to 100 ms. Errors from `check` are remembered and reported on timeout.
pub async fn eventually<F, Fut>(
    limit: Duration,
    what: impl Display,
    mut check: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut pause = Duration::from_millis(5);
    let mut last_error = None;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(remaining, check()).await {
            Ok(Ok(true)) => return Ok(()),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => last_error = Some(e),
            Err(_) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(match last_error {
                Some(e) => e.context(format!(
                    "{what} did not happen within {limit:?}; last error"
                )),
                None => anyhow::anyhow!("{what} did not happen within {limit:?}"),
            });
        }
        tokio::time::sleep(pause.min(remaining)).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// The timeout error names what was awaited.
    #[tokio::test(start_paused = true)]
    async fn within_names_what_it_waited_for() {
        let err = within(
            Duration::from_secs(5),
            "Redis at redis://x:1",
            std::future::pending::<()>(),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("5s") && err.contains("Redis at redis://x:1"),
            "{err}"
        );
    }

    /// `eventually` returns as soon as the condition holds.
    #[tokio::test(start_paused = true)]
    async fn eventually_stops_polling_once_true() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        eventually(Duration::from_secs(1), "third call", move || {
            let c = c.clone();
            async move { Ok(c.fetch_add(1, Ordering::SeqCst) >= 2) }
        })
        .await
        .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    /// A condition that never holds fails with the description and the last error.
    #[tokio::test(start_paused = true)]
    async fn eventually_reports_the_last_error_on_timeout() {
        let err = eventually(
            Duration::from_millis(200),
            "the consumer catching up",
            || async { Err::<bool, _>(anyhow::anyhow!("lag is 3")) },
        )
        .await
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("the consumer catching up") && text.contains("lag is 3"),
            "{text}"
        );
    }
}
