//! # Rate limiting for an API gateway — reference solution
//!
//! This solution picks the **token bucket** for the gateway: it states a burst
//! and a sustained rate separately (the two numbers product teams actually
//! negotiate), costs O(1) memory per key, and becomes a single atomic script on
//! Redis. The sliding window log (step 2) is kept for comparison: exact over
//! every window, but O(limit) memory per key.
//!
//! | step | module                | what it adds                                         |
//! |------|-----------------------|------------------------------------------------------|
//! | 1    | [`token_bucket`]      | per-key buckets, exact integer refill, thread safety |
//! | 2    | [`sliding_window`]    | a window with no edge to exploit                     |
//! | 3    | [`redis_bucket`]      | one atomic script per decision, shared by instances  |
//! | 4    | [`http`]              | axum middleware, 429 + `Retry-After` + `RateLimit`   |
//! | 5    | [`redis_bucket`]      | a bounded decision and a stated failure policy       |

// The clock, the quota vocabulary and the Limiter interface are given to the
// candidate as they are; the reference compiles the very same files, so the two
// can never drift apart.
#[path = "../../../exercises/rate_limiter/src/clock.rs"]
pub mod clock;
#[path = "../../../exercises/rate_limiter/src/limiter.rs"]
pub mod limiter;
#[path = "../../../exercises/rate_limiter/src/quota.rs"]
pub mod quota;

pub mod http;
pub mod redis_bucket;
pub mod sliding_window;
pub mod token_bucket;

pub use clock::{Clock, ManualClock, SystemClock};
pub use http::rate_limited;
pub use limiter::{Limiter, Policy};
pub use quota::{Decision, Quota, RateLimitError};
pub use redis_bucket::{FailurePolicy, RedisTokenBucket};
pub use sliding_window::SlidingWindow;
pub use token_bucket::TokenBucket;
