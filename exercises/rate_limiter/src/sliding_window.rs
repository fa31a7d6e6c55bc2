//! Step 2 — a sliding window per key, in memory.
//!
//! At most `limit` per `window`, where "the window" is always the last `window`
//! of time before now — not a calendar slot that resets on the minute. Keep a
//! log of admissions (exact) or two counters per key weighted by overlap (the
//! sliding window counter, approximate); both pass. A fixed window does not:
//! the tests send bursts on both sides of every possible edge.
//!
//! Things the tests check (README, step 2):
//! * `limit` per window, exactly, for a quiet key;
//! * no burst of more than the limit around any window edge;
//! * an honest `retry_after` (at most one window; waiting it out is enough);
//! * costs, errors and thread safety as in step 1.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::quota::{Decision, RateLimitError};

/// In-memory sliding windows, one per key.
pub struct SlidingWindow {
    limit: u64,
    window: Duration,
    clock: Arc<dyn Clock>,
    // TODO(step 2): the per-key state (a log of admissions, or two counters).
}

impl SlidingWindow {
    /// At most `limit` per `window`.
    ///
    /// # Panics
    /// If `limit` is zero or `window` is zero.
    pub fn new(limit: u64, window: Duration, clock: impl Clock) -> SlidingWindow {
        assert!(limit > 0, "SlidingWindow needs a limit of at least 1");
        assert!(!window.is_zero(), "SlidingWindow needs a non-zero window");
        // TODO(step 2): initialise your per-key state.
        SlidingWindow {
            limit,
            window,
            clock: Arc::new(clock),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Admit `cost` for `key` if the last `window` leaves room for it.
    pub fn try_acquire(&self, key: &str, cost: u64) -> Result<Decision, RateLimitError> {
        // TODO(step 2): forget what has left the window, decide, and report
        // remaining / retry_after / reset_after.
        todo!("step 2: SlidingWindow::try_acquire — see README step 2")
    }
}
