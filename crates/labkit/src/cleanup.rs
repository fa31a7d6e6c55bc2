//! Cleaning up after tests, from places that cannot `.await`.
//!
//! `Drop` is synchronous, and by the time a test's `Drop` runs its Tokio runtime
//! may be shutting down. So cleanup runs on a short-lived thread with its own
//! small runtime, bounded by a timeout: a slow database must not turn a passing
//! test into a hanging one.

use std::future::Future;
use std::sync::{Mutex, Once};
use std::time::Duration;

use crate::docker::DockerHost;

/// Run `work` to completion on a fresh thread and runtime, waiting at most `limit`.
/// Failures are reported on stderr (the test harness shows them for failed tests)
/// and otherwise ignored: cleanup must never fail a test that passed.
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
        let containers = std::mem::take(&mut *CONTAINERS.lock().unwrap_or_else(|p| p.into_inner()));
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
