//! # Rate limiting for an API gateway
//!
//! Read `README.md` next to this crate (the question and the steps are there),
//! then make the tests pass step by step:
//!
//! ```text
//! cargo test -p rate_limiter step1      # or: cargo lab check rate_limiter
//! ```
//!
//! | step | where                  | what you build                                        |
//! |------|------------------------|-------------------------------------------------------|
//! | 1    | [`token_bucket`]       | a token bucket per key, in memory, safe under threads |
//! | 2    | [`sliding_window`]     | a sliding window per key, in memory                   |
//! | 3    | [`redis_bucket`]       | the bucket in Redis: one atomic script per decision   |
//! | 4    | [`http`]               | axum middleware: 429, `Retry-After`, `RateLimit`      |
//! | 5    | [`redis_bucket`], [`http`] | a bounded decision and a failure policy           |
//!
//! [`clock`], [`quota`] and [`limiter`] are provided. Every place you need to change is
//! marked `// TODO(step N)`.

// The skeleton leaves fields and parameters unused until you write the bodies.
// `expect` rather than `allow`: once your code uses them all, the compiler says
// this line is no longer needed, and you delete it.
#![expect(dead_code, unused_variables)]

pub mod clock;
pub mod http;
pub mod limiter;
pub mod quota;
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
