//! The rate_limiter spec: what your code must do, step by step.
//!
//! One test binary, one module per step of the README. Test names read as
//! sentences and start with their step, so
//!
//! ```text
//! cargo test -p rate_limiter step1          # just step 1
//! cargo lab check rate_limiter              # all steps, with progress and hints
//! ```
//!
//! Steps 3 and 5 need Redis: set `LAB_REDIS_URL`, or have Docker running (see the
//! lab's README). The same files test the reference solution
//! (`cargo test -p rate_limiter_solution`).

mod support;

mod step1_token_bucket;
mod step2_sliding_window;
mod step3_redis;
mod step4_http;
mod step5_failure_policy;
