//! Tracing for tests: one subscriber per process, silent unless asked for.
//!
//! `TEST_LOG=1 cargo test -p rate_limiter step5` shows the logs (filtered by
//! `RUST_LOG`, default `info`); without it, tests print nothing. labkit calls
//! [`init_tracing`] itself wherever a test first touches it (resolving a
//! service, starting a proxy or a server); a test with none of those can call it. Logs go through
//! libtest's capture, so a failing test shows its own logs and no one else's.
//!
//! Tests that must *assert* on a log line (a limiter that "fails closed and logs
//! it") use [`capture_logs`], which records events for one future only.

use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Install the process-wide subscriber once; later calls do nothing.
pub fn init_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_none() {
            return;
        }
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// Log lines recorded by a [`capture_logs`] dispatcher.
#[derive(Clone, Default)]
pub struct CapturedLogs {
    lines: Arc<Mutex<Vec<u8>>>,
}

impl CapturedLogs {
    /// Everything recorded so far, one event per line, without colours.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// True if some recorded event at `level` (e.g. `"WARN"`) contains `needle`.
    pub fn contains(&self, level: &str, needle: &str) -> bool {
        self.text()
            .lines()
            .any(|line| line.contains(level) && line.contains(needle))
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A dispatcher that records every event at DEBUG and above, and the handle to
/// read them. Use it for one future with `tracing::instrument::WithSubscriber`:
///
/// ```
/// use tracing::instrument::WithSubscriber;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (dispatch, logs) = labkit::capture_logs();
/// async { tracing::warn!("store unavailable, failing closed") }
///     .with_subscriber(dispatch)
///     .await;
/// assert!(logs.contains("WARN", "failing closed"));
/// # }
/// ```
///
/// Only events emitted while polling that future are recorded; tasks it spawns
/// run elsewhere and are not.
pub fn capture_logs() -> (Dispatch, CapturedLogs) {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    (Dispatch::new(subscriber), logs)
}
