//! Step 5, hidden.

use quorum_kv::{Call, Event, Verdict, check};

/// A failed write did not happen: a read that sees its value is a violation.
#[test]
fn step5_hidden_a_read_of_a_failed_write_is_a_violation() {
    let history = vec![
        Event::Invoke {
            client: 0,
            key: "k".into(),
            call: Call::Write("1".into()),
        },
        Event::Fail { client: 0 },
        Event::Invoke {
            client: 1,
            key: "k".into(),
            call: Call::Read,
        },
        Event::Ok {
            client: 1,
            read: Some("1".into()),
        },
    ];
    assert!(matches!(check(&history), Ok(Verdict::Violation(_))));
}
