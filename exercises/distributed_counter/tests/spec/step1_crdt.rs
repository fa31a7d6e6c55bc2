//! Step 1 — the PN-counter: merge is commutative, associative and idempotent,
//! so replicas converge however states are delivered, and nothing is lost.

use distributed_counter::PnCounter;
use distributed_counter::crdt::CounterError;
use proptest::prelude::*;

/// A few operations on a few replicas: (replica index, delta).
fn ops() -> impl Strategy<Value = Vec<(usize, i64)>> {
    prop::collection::vec((0usize..3, prop_oneof![1i64..100, -100i64..-1]), 0..20)
}

fn state_of(ops: &[(usize, i64)]) -> PnCounter {
    let mut state = PnCounter::default();
    for (replica, delta) in ops {
        state
            .apply(&format!("r{replica}"), *delta)
            .expect("small deltas apply");
    }
    state
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    }
}

/// One plain call first, so an unfinished step fails once rather than once per
/// shrink attempt.
fn smoke() {
    let mut a = PnCounter::default();
    a.apply("r0", 1).expect("an increment applies");
    a.merge(&PnCounter::default());
}

/// merge(a, b) = merge(b, a); merge(merge(a, b), c) = merge(a, merge(b, c));
/// merge(a, a) = a.
#[test]
fn step1_merge_is_commutative_associative_and_idempotent() {
    smoke();
    proptest!(config(), |(a in ops(), b in ops(), c in ops())| {
        let (a, b, c) = (state_of(&a), state_of(&b), state_of(&c));
        let merged = |x: &PnCounter, y: &PnCounter| { let mut m = x.clone(); m.merge(y); m };
        prop_assert_eq!(merged(&a, &b), merged(&b, &a), "README step 1: merge must be commutative");
        prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)), "merge must be associative");
        prop_assert_eq!(merged(&a, &a), a.clone(), "merge must be idempotent: receiving a state twice changes nothing");
    });
}

/// Replicas that each apply their own operations and then receive each other's
/// states in any order, any number of times, end identical — with the value of
/// every operation applied exactly once.
#[test]
fn step1_any_order_and_duplication_of_deliveries_converges_to_the_true_value() {
    smoke();
    proptest!(config(), |(work in prop::collection::vec(ops(), 3), deliveries in prop::collection::vec((0usize..3, 0usize..3), 0..30))| {
        // Replica i applies only its own operations (as itself).
        let mut replicas: Vec<PnCounter> = (0..3).map(|i| {
            let mut state = PnCounter::default();
            for (_, delta) in &work[i] {
                state.apply(&format!("r{i}"), *delta).expect("small deltas apply");
            }
            state
        }).collect();
        let expected: i64 = work.iter().flatten().map(|(_, d)| d).sum();
        // Arbitrary, duplicated, reordered deliveries, then a final full exchange.
        for (from, to) in deliveries {
            let sent = replicas[from].clone();
            replicas[to].merge(&sent);
        }
        for from in 0..3 {
            for to in 0..3 {
                let sent = replicas[from].clone();
                replicas[to].merge(&sent);
            }
        }
        for replica in &replicas {
            prop_assert_eq!(replica, &replicas[0], "all replicas must end identical");
            prop_assert_eq!(replica.value(), expected, "the value is every increment minus every decrement, once");
        }
    });
}

/// The value is the increments minus the decrements.
#[test]
fn step1_the_value_is_increments_minus_decrements() {
    let mut counter = PnCounter::default();
    for delta in [5, 7, -3, 10, -4] {
        counter.apply("r1", delta).expect("applies");
    }
    counter.apply("r2", -6).expect("applies");
    assert_eq!(counter.value(), 9);
}

/// A decrement survives merging with an older state of the same replica (it is
/// not a lowered increment, which merge-by-maximum would undo).
#[test]
fn step1_a_decrement_survives_a_merge_with_an_older_state() {
    let mut older = PnCounter::default();
    older.apply("r1", 5).expect("applies");
    let mut newer = older.clone();
    newer.apply("r1", -2).expect("applies");
    let mut merged = older.clone();
    merged.merge(&newer);
    assert_eq!(
        merged.value(),
        3,
        "README step 1: decrements need their own slots"
    );
    let mut other_way = newer.clone();
    other_way.merge(&older);
    assert_eq!(other_way.value(), 3);
}

/// Increments on different replicas are all kept by a merge (one number per
/// node, keeping the larger, would lose the smaller one's).
#[test]
fn step1_increments_on_different_replicas_all_survive_a_merge() {
    let mut a = PnCounter::default();
    a.apply("r1", 5).expect("applies");
    let mut b = PnCounter::default();
    b.apply("r2", 3).expect("applies");
    a.merge(&b);
    assert_eq!(a.value(), 8);
}

/// The token round-trips (the empty state's, `""`, too), is `replica:incs:decs`
/// joined by commas, and a state dominates exactly the states it contains.
#[test]
fn step1_the_session_token_round_trips_and_orders_states() {
    let mut seen = PnCounter::default();
    seen.apply("n1", 5).expect("applies");
    seen.apply("n2", 3).expect("applies");
    seen.apply("n2", -1).expect("applies");
    let token = seen.to_token();
    let parsed = crate::support::parse_token(&token);
    assert_eq!(parsed.get("n1"), Some(&(5, 0)), "token {token}");
    assert_eq!(parsed.get("n2"), Some(&(3, 1)), "token {token}");
    assert_eq!(PnCounter::from_token(&token), Some(seen.clone()));
    for malformed in ["n1:x:0", "n1:1:0:7", ":1:0", "n1:1", "n1:-1:0"] {
        assert_eq!(
            PnCounter::from_token(malformed),
            None,
            "the token {malformed:?} is malformed (a field too many or too few, an empty replica, \
             a count that is not a non-negative integer) and must be refused"
        );
    }
    assert_eq!(
        PnCounter::default().to_token(),
        "",
        "the empty state's token is empty"
    );
    assert_eq!(
        PnCounter::from_token(""),
        Some(PnCounter::default()),
        "the empty token is valid: it is the empty state (and what linearizable mode answers)"
    );

    let mut later = seen.clone();
    later.apply("n3", 1).expect("applies");
    assert!(later.dominates(&seen) && !seen.dominates(&later));
}

/// A zero delta, or one that would overflow the counter, is an error, and
/// leaves the state unchanged.
#[test]
fn step1_zero_and_overflowing_deltas_are_refused() {
    let mut counter = PnCounter::default();
    assert_eq!(counter.apply("r1", 0), Err(CounterError::ZeroDelta));
    counter
        .apply("r1", i64::MAX)
        .expect("the largest value fits");
    let before = counter.clone();
    assert_eq!(
        counter.apply("r1", 1),
        Err(CounterError::Overflow),
        "README step 1: check for overflow"
    );
    assert_eq!(
        counter.apply("r2", 1),
        Err(CounterError::Overflow),
        "the total must stay representable too"
    );
    assert_eq!(counter, before, "a refused delta changes nothing");
}
