//! Step 3, hidden.

use quorum_kv::{Dot, Resolution, Version, VersionVector, reconcile};

/// Two versions with the same stamp: every replica keeps the same one (the
/// larger writer's slot, whatever the values), in whatever order they arrive,
/// or replicas disagree forever.
#[test]
fn step3_hidden_equal_stamps_are_broken_by_writer_the_same_way_everywhere() {
    let v = |value: &str, slot: &str| Version {
        value: value.to_string(),
        dot: Dot {
            slot: slot.to_string(),
            counter: 1,
        },
        context: VersionVector::new(),
        ts_ms: 1_000,
    };
    // The values sort the other way from the writers.
    let (low, high) = (v("zzz from n0", "n0"), v("aaa from n1", "n1"));
    for input in [
        vec![low.clone(), high.clone()],
        vec![high.clone(), low.clone()],
    ] {
        assert_eq!(reconcile(input, Resolution::Lww), vec![high.clone()]);
    }
}
