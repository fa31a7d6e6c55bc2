//! Step 1, hidden — overflow is refused in both directions: the decrements'
//! total must stay representable, as the increments' must.

use distributed_counter::PnCounter;
use distributed_counter::crdt::CounterError;

/// A decrement that would carry the decrements' total past what the value can
/// hold is refused — on the same replica's slot and on another replica's — and
/// leaves the state unchanged.
#[test]
fn step1_a_decrement_that_would_overflow_the_total_is_refused() {
    let mut counter = PnCounter::default();
    counter
        .apply("r1", -i64::MAX)
        .expect("the largest decrement total fits");
    let before = counter.clone();
    assert_eq!(
        counter.apply("r1", -1),
        Err(CounterError::Overflow),
        "README bad input: a decrement that would overflow the counter is refused too"
    );
    assert_eq!(
        counter.apply("r2", -1),
        Err(CounterError::Overflow),
        "README bad input: the decrements' total across replicas must stay representable"
    );
    assert_eq!(counter, before, "a refused delta changes nothing");
    assert_eq!(counter.value(), -i64::MAX);
}
