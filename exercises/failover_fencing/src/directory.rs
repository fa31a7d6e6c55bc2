// PROVIDED: read it, do not change it.
//! Where clients look up the primary: a stand-in for the DNS name, the
//! service-discovery key or the proxy configuration a real failover rewrites.
//! Publishing is the *re-routing* phase of a failover, after detection and
//! promotion.

use std::sync::{Arc, RwLock};

/// A shared, cloneable pointer to the current primary's URL.
#[derive(Clone, Debug)]
pub struct Directory {
    inner: Arc<RwLock<Published>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Published {
    primary: String,
    /// How many times a primary was published after the first.
    changes: u64,
}

impl Directory {
    pub fn new(primary: impl Into<String>) -> Directory {
        Directory {
            inner: Arc::new(RwLock::new(Published {
                primary: primary.into(),
                changes: 0,
            })),
        }
    }

    /// The URL clients should write to now.
    pub fn primary(&self) -> String {
        self.read().primary
    }

    /// How many times [`publish`](Self::publish) was called.
    pub fn changes(&self) -> u64 {
        self.read().changes
    }

    /// Point every client at `url` from now on.
    pub fn publish(&self, url: impl Into<String>) {
        let mut published = match self.inner.write() {
            Ok(guard) => guard,
            // A writer panicked mid-update; the value is a whole String either way.
            Err(poisoned) => poisoned.into_inner(),
        };
        published.primary = url.into();
        published.changes += 1;
    }

    fn read(&self) -> Published {
        match self.inner.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}
