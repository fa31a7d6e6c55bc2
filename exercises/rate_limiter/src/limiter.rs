// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! The one thing the HTTP layer needs from a limiter: "may this key spend this
//! much?" and "what quota do I advertise?". Each limiter of steps 1–3 implements
//! it by calling its own `try_acquire`, so the middleware (step 4) works with any
//! of them behind an `Arc<dyn Limiter>`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::quota::{Decision, RateLimitError};
use crate::redis_bucket::RedisTokenBucket;
use crate::sliding_window::SlidingWindow;
use crate::token_bucket::TokenBucket;

/// A boxed future, so that limiters can sit behind `Arc<dyn Limiter>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The quota a limiter advertises: `quota` units per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub quota: u64,
    pub window: Duration,
}

/// Any limiter the middleware can use.
pub trait Limiter: Send + Sync + 'static {
    fn check<'a>(
        &'a self,
        key: &'a str,
        cost: u64,
    ) -> BoxFuture<'a, Result<Decision, RateLimitError>>;
    fn policy(&self) -> Policy;
}

impl Limiter for TokenBucket {
    fn check<'a>(
        &'a self,
        key: &'a str,
        cost: u64,
    ) -> BoxFuture<'a, Result<Decision, RateLimitError>> {
        Box::pin(std::future::ready(self.try_acquire(key, cost)))
    }
    fn policy(&self) -> Policy {
        Policy {
            quota: self.quota().capacity(),
            window: self.quota().full_refill(),
        }
    }
}

impl Limiter for SlidingWindow {
    fn check<'a>(
        &'a self,
        key: &'a str,
        cost: u64,
    ) -> BoxFuture<'a, Result<Decision, RateLimitError>> {
        Box::pin(std::future::ready(self.try_acquire(key, cost)))
    }
    fn policy(&self) -> Policy {
        Policy {
            quota: self.limit(),
            window: self.window(),
        }
    }
}

impl Limiter for RedisTokenBucket {
    fn check<'a>(
        &'a self,
        key: &'a str,
        cost: u64,
    ) -> BoxFuture<'a, Result<Decision, RateLimitError>> {
        Box::pin(self.try_acquire(key, cost))
    }
    fn policy(&self) -> Policy {
        Policy {
            quota: self.quota().capacity(),
            window: self.quota().full_refill(),
        }
    }
}
