// PROVIDED: a pause point between a read and the write that depends on it.
// You do not need to change this file; call `gate.after_read().await` where the
// comments in your files say.

//! Races made certain.
//!
//! A lost update or a write skew needs two transactions to read before either
//! writes. Under real concurrency that happens sometimes; a test that hopes for
//! it proves nothing when it passes. So every operation of steps 2–4 takes a
//! [`Gate`] and calls [`Gate::after_read`] once it has read what its write
//! depends on. In production the gate is [`Gate::open`] and costs nothing; the
//! tests close it to line transactions up exactly:
//!
//! * [`Gate::barrier`]: the first `n` arrivals wait for each other, so `n`
//!   transactions have all read before any writes. Later arrivals (a retry)
//!   pass straight through.
//! * [`Gate::hold`]: the first arrival stops until the test releases it, so the
//!   test can look at the locks it holds.
//!
//! A gate never waits forever: after [`Gate::BOUND`] it lets the caller go, so
//! a transaction that could never meet its partner (it holds a lock the partner
//! waits for) shows up as a failed assertion, not a hung test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Barrier, Notify};

#[derive(Clone, Default)]
pub struct Gate {
    kind: Kind,
}

#[derive(Clone, Default)]
enum Kind {
    #[default]
    Open,
    Barrier {
        barrier: Arc<Barrier>,
        size: usize,
        arrivals: Arc<AtomicUsize>,
    },
    Hold {
        arrivals: Arc<AtomicUsize>,
        held: Arc<Held>,
    },
}

/// The test's side of [`Gate::hold`].
#[derive(Default)]
pub struct Held {
    reached: Notify,
    released: Notify,
}

impl Held {
    /// Wait until the first caller has read and stopped at the gate; `false`
    /// if none arrived within [`Gate::BOUND`].
    pub async fn reached(&self) -> bool {
        tokio::time::timeout(Gate::BOUND, self.reached.notified())
            .await
            .is_ok()
    }

    /// Let the stopped caller go on.
    pub fn release(&self) {
        self.released.notify_one();
    }
}

impl Gate {
    /// The longest a gate keeps anyone waiting.
    pub const BOUND: Duration = Duration::from_secs(10);

    /// No pause: what production code passes.
    pub fn open() -> Gate {
        Gate::default()
    }

    /// The first `n` callers of [`Gate::after_read`] wait until all `n` have
    /// arrived; every later caller passes.
    pub fn barrier(n: usize) -> Gate {
        Gate {
            kind: Kind::Barrier {
                barrier: Arc::new(Barrier::new(n)),
                size: n,
                arrivals: Arc::new(AtomicUsize::new(0)),
            },
        }
    }

    /// The first caller stops until the returned [`Held`] releases it.
    pub fn hold() -> (Gate, Arc<Held>) {
        let held = Arc::new(Held::default());
        let gate = Gate {
            kind: Kind::Hold {
                arrivals: Arc::new(AtomicUsize::new(0)),
                held: Arc::clone(&held),
            },
        };
        (gate, held)
    }

    /// Call once the transaction has read what its write depends on.
    pub async fn after_read(&self) {
        match &self.kind {
            Kind::Open => {}
            Kind::Barrier {
                barrier,
                size,
                arrivals,
            } => {
                if arrivals.fetch_add(1, Ordering::SeqCst) < *size {
                    let _ = tokio::time::timeout(Gate::BOUND, barrier.wait()).await;
                }
            }
            Kind::Hold { arrivals, held } => {
                if arrivals.fetch_add(1, Ordering::SeqCst) == 0 {
                    // notify_one stores a permit, so a test that starts waiting
                    // after this line still sees it.
                    held.reached.notify_one();
                    let _ = tokio::time::timeout(Gate::BOUND, held.released.notified()).await;
                }
            }
        }
    }
}
