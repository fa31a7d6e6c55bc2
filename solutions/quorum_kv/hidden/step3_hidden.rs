//! Step 3, hidden.

use quorum_kv::{Resolution, Version, VersionVector, reconcile};

/// Two versions with the same stamp: every replica keeps the same one (the
/// larger writer), whatever order they arrive in, or replicas diverge forever.
#[test]
fn step3_hidden_equal_stamps_are_broken_by_writer_the_same_way_everywhere() {
    let v = |value: &str, writer: &str| Version {
        value: value.to_string(),
        clock: VersionVector::from_pairs([(writer, 1)]),
        ts_ms: 1_000,
        writer: writer.to_string(),
    };
    let (low, high) = (v("from n0", "n0"), v("from n1", "n1"));
    for input in [
        vec![low.clone(), high.clone()],
        vec![high.clone(), low.clone()],
    ] {
        assert_eq!(reconcile(input, Resolution::Lww), vec![high.clone()]);
    }
}
