//! Step 2 — a sliding window per key, in memory (the sliding *log* variant).
//!
//! ## The guarantee
//! For every key and every instant `t`, the cost admitted in the window
//! `(t - window, t]` is at most `limit`. Exactly, not approximately: the log keeps
//! every admission that is still inside the window.
//!
//! ## Why not a fixed window
//! A fixed window counts per calendar slot (`12:00:00–12:00:59`). A client can
//! spend the whole limit at `12:00:59` and the whole limit again at `12:01:00`:
//! twice the limit in two seconds. The log has no edges to exploit.
//!
//! ## The price, and the alternative
//! Memory is one entry per admission in the window (entries at the same instant
//! are merged), so `O(limit)` per busy key. The sliding window *counter* keeps
//! just two counters per key (this slot and the previous one) and weights the
//! previous one by how much of it still overlaps the window. It is `O(1)` and
//! what large gateways run, at the price of being an estimate: it assumes the
//! previous slot's requests were spread evenly. Both pass this step's tests.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::clock::Clock;
use crate::quota::{Decision, RateLimitError};

const SHARDS: usize = 32;

/// In-memory sliding-window logs, one per key.
pub struct SlidingWindow {
    limit: u64,
    window: Duration,
    clock: Arc<dyn Clock>,
    shard_hasher: RandomState,
    shards: Box<[Mutex<HashMap<String, Log>>]>,
}

/// Admissions still inside the window, oldest first, and their total cost (kept
/// so a decision does not have to sum the log).
#[derive(Default)]
struct Log {
    entries: VecDeque<Admission>,
    total: u64,
}

#[derive(Clone, Copy)]
struct Admission {
    at: u128,
    cost: u64,
}

impl SlidingWindow {
    /// At most `limit` per `window`.
    ///
    /// # Panics
    /// If `limit` is zero or `window` is zero: those are configuration mistakes.
    pub fn new(limit: u64, window: Duration, clock: impl Clock) -> SlidingWindow {
        assert!(limit > 0, "SlidingWindow needs a limit of at least 1");
        assert!(!window.is_zero(), "SlidingWindow needs a non-zero window");
        SlidingWindow {
            limit,
            window,
            clock: Arc::new(clock),
            shard_hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
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
        if cost > self.limit {
            return Err(RateLimitError::CostExceedsCapacity {
                cost,
                capacity: self.limit,
            });
        }
        let now = self.clock.now().as_nanos();
        let window = self.window.as_nanos();
        let mut shard = self.shard(key);
        let log = match shard.get_mut(key) {
            Some(log) => log,
            None => shard.entry(key.to_owned()).or_default(),
        };

        // Slide: drop admissions that have left the window (at + window <= now).
        while let Some(oldest) = log.entries.front() {
            if oldest.at + window > now {
                break;
            }
            log.total -= oldest.cost;
            log.entries.pop_front();
        }

        let allowed = log.total + cost <= self.limit;
        if allowed && cost > 0 {
            log.total += cost;
            match log.entries.back_mut() {
                // Same instant as the newest entry: merge, so a burst is one entry.
                Some(newest) if newest.at == now => newest.cost += cost,
                _ => log.entries.push_back(Admission { at: now, cost }),
            }
        }

        let until_gone = |a: &Admission| {
            Duration::from_nanos(
                u64::try_from((a.at + window).saturating_sub(now)).unwrap_or(u64::MAX),
            )
        };
        let retry_after = (!allowed).then(|| {
            // Room appears when enough of the oldest admissions have left.
            let mut to_free = log.total + cost - self.limit;
            let mut wait = Duration::ZERO;
            for admission in &log.entries {
                wait = until_gone(admission);
                to_free = to_free.saturating_sub(admission.cost);
                if to_free == 0 {
                    break;
                }
            }
            wait
        });
        Ok(Decision {
            allowed,
            limit: self.limit,
            remaining: self.limit - log.total,
            retry_after,
            reset_after: log.entries.back().map(until_gone).unwrap_or_default(),
            degraded: false,
        })
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<String, Log>> {
        let index = (self.shard_hasher.hash_one(key) % SHARDS as u64) as usize;
        self.shards[index].lock().unwrap_or_else(|p| p.into_inner())
    }
}
