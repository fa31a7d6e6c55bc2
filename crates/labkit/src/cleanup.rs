//! Cleaning up after tests, from places that cannot `.await`.
//!
//! `Drop` is synchronous, and by the time a test's `Drop` runs its Tokio runtime
//! may be shutting down. So cleanup runs on a short-lived thread with its own
//! small runtime, bounded by a timeout: a slow database must not turn a passing
//! test into a hanging one.

use std::future::Future;
use std::time::Duration;

/// Run `work` to completion on a fresh thread and runtime, waiting at most `limit`.
/// Failures are reported on stderr (the test harness shows them for failed tests)
/// and otherwise ignored: cleanup must never fail a test that passed.
/// The variable that tells labkit what to do with a failed test's resources.
pub const KEEP_FAILED_VAR: &str = "LAB_KEEP_FAILED";

/// Whether a failed test keeps its database and keys for inspection.
///
/// Yes by default: a learner (or a reference run in CI) wants to look at what the
/// code left behind. `LAB_KEEP_FAILED=0` says no: `cargo lab verify` sets it for
/// skeleton and mutant runs, where every test is *meant* to fail and nobody will
/// ever look, so a full verify would otherwise leave hundreds of databases.
pub fn keep_failed() -> bool {
    keep_failed_from(std::env::var(KEEP_FAILED_VAR).ok().as_deref())
}

fn keep_failed_from(value: Option<&str>) -> bool {
    !matches!(
        value.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
        Some("0" | "no" | "false" | "never")
    )
}

// Kafka topics are never removed (see `kafka`), so only these two use it.
#[cfg_attr(not(any(feature = "postgres", feature = "redis")), allow(dead_code))]
pub(crate) fn run_blocking<F>(what: String, limit: Duration, work: F)
where
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let joined = std::thread::Builder::new()
        .name("labkit-cleanup".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return Err(anyhow::anyhow!("no runtime for cleanup: {e}")),
            };
            match runtime.block_on(async { tokio::time::timeout(limit, work).await }) {
                Ok(result) => result,
                Err(_) => Err(anyhow::anyhow!("took longer than {limit:?}")),
            }
        })
        .map(|handle| handle.join());
    match joined {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("labkit: cleanup of {what} failed: {e:#}"),
        Ok(Err(_)) => eprintln!("labkit: cleanup of {what} panicked"),
        Err(e) => eprintln!("labkit: could not start cleanup of {what}: {e}"),
    }
}

#[cfg(feature = "containers")]
pub(crate) use at_exit::remove_at_exit;

#[cfg(feature = "containers")]
mod at_exit {
    use std::sync::{Mutex, Once};
    use std::time::Duration;

    use crate::docker::DockerHost;

    static CONTAINERS: Mutex<Vec<(DockerHost, String)>> = Mutex::new(Vec::new());
    static AT_EXIT: Once = Once::new();

    /// Remove this container when the test process exits.
    ///
    /// Containers live in a process-wide cell so every test in the binary shares them,
    /// and statics are never dropped; `atexit` is the one hook that still runs when
    /// the test harness finishes (it also runs on `process::exit`, which is how
    /// libtest reports failures).
    pub(crate) fn remove_at_exit(host: DockerHost, id: String) {
        CONTAINERS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((host, id));
        AT_EXIT.call_once(|| {
            // SAFETY: `atexit` only records a function pointer; the function below is
            // `extern "C"`, takes no arguments and never unwinds across the boundary.
            #[allow(unsafe_code)]
            unsafe {
                libc::atexit(remove_registered_containers);
            }
        });
    }

    extern "C" fn remove_registered_containers() {
        let _ = std::panic::catch_unwind(|| {
            let containers =
                std::mem::take(&mut *CONTAINERS.lock().unwrap_or_else(|p| p.into_inner()));
            for (host, id) in containers {
                if let Err(e) =
                    crate::docker::remove_container_blocking(&host, &id, Duration::from_secs(10))
                {
                    eprintln!(
                        "labkit: could not remove container {id}: {e}; remove it with `docker rm -f {id}`"
                    );
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::keep_failed_from;

    /// Failed tests keep their resources unless the variable says no in so many words.
    #[test]
    fn failed_resources_are_kept_unless_told_otherwise() {
        for kept in [None, Some(""), Some("1"), Some("yes"), Some("keep")] {
            assert!(keep_failed_from(kept), "{kept:?} should keep");
        }
        for dropped in [Some("0"), Some("no"), Some(" FALSE "), Some("never")] {
            assert!(!keep_failed_from(dropped), "{dropped:?} should drop");
        }
    }
}
