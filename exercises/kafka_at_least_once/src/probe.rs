// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! Where the tests watch, and crash, your code (provided).
//!
//! Call [`Probe::reached`] at the points this file names — the README and the
//! skeleton say where. A test's probe records every point (that is how it
//! counts deliveries and proves a redelivery happened) and, to simulate a
//! crash, never returns from one chosen point: the test then aborts the task
//! that runs your consumer or relay, exactly there.
//!
//! In production the probe is [`Probe::none`] and costs one branch.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A place in the life of a record or an outbox batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Point {
    /// A record was delivered to the consumer and decoded (or found to be
    /// poison: `event_id` is `None`). Nothing has been done with it yet.
    Received {
        partition: i32,
        offset: i64,
        event_id: Option<String>,
    },
    /// The record's database transaction committed (`duplicate`: the event was
    /// already processed, so the effect was skipped). Its offset is not stored
    /// or committed yet.
    Applied {
        partition: i32,
        offset: i64,
        event_id: String,
        duplicate: bool,
    },
    /// A poison record's dead letter was acknowledged by the broker; its offset
    /// is not stored or committed yet.
    DeadLettered { partition: i32, offset: i64 },
    /// The relay read these outbox rows and is about to hand them to the
    /// producer. Nothing is published or marked yet.
    Publishing { outbox_ids: Vec<i64> },
    /// Every row of the batch is acknowledged by the broker. Nothing is
    /// marked published yet.
    Published { outbox_ids: Vec<i64> },
}

type Hook = dyn Fn(Point) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

#[derive(Clone, Default)]
pub struct Probe {
    hook: Option<Arc<Hook>>,
}

impl Probe {
    /// No observer (production, benches).
    pub fn none() -> Probe {
        Probe { hook: None }
    }

    pub fn new<F, Fut>(hook: F) -> Probe
    where
        F: Fn(Point) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Probe {
            hook: Some(Arc::new(move |point| Box::pin(hook(point)))),
        }
    }

    /// Tell the observer where you are. A test may never return from this: that
    /// is a simulated crash at this point.
    pub async fn reached(&self, point: Point) {
        if let Some(hook) = &self.hook {
            hook(point).await;
        }
    }
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.hook.is_some() {
            "Probe(hooked)"
        } else {
            "Probe(none)"
        })
    }
}
