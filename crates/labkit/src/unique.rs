//! Names no other test (or earlier run) is using.
//!
//! Names carry the test's own name where possible, so that a database or topic
//! kept after a failure can be traced back to the test that made it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// `<prefix>_<test name>_<random>`, lowercase, `[a-z0-9_]` only, at most 63
/// characters (Postgres truncates identifiers beyond that).
///
/// libtest names each test's thread after the test, so the test name comes for
/// free; the random suffix keeps parallel runs of the same test apart.
pub fn name(prefix: &str) -> String {
    let test = std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .map(|n| n.rsplit("::").next().unwrap_or(n).to_string())
        .unwrap_or_default();
    let suffix = format!("{:012x}", random() & 0xffff_ffff_ffff);
    let mut base: String = format!("{prefix}_{test}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    base.truncate(63 - 1 - suffix.len());
    format!("{}_{suffix}", base.trim_end_matches('_'))
}

/// A random 64-bit value, different on every call, from std alone.
pub fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded randomly per process; mixing in a counter and the pid
    // makes every call distinct within and across processes.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are valid identifiers, short enough, distinct, and carry the test name.
    #[test]
    fn names_are_short_safe_distinct_and_traceable() {
        let a = name("lab");
        let b = name("lab");
        assert_ne!(a, b);
        assert!(a.len() <= 63, "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{a}"
        );
        assert!(a.contains("names_are_short"), "{a}");
    }
}
