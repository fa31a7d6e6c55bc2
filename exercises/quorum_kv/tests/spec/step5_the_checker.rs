//! Step 5: the checker. Hand-made histories with known answers, then
//! histories recorded from the store: linearizable where the README promises
//! it, and a violation found where the test provoked one.

use std::sync::Arc;

use quorum_kv::{
    Call, Config, Counterexample, Event, KvError, Mode, Operation, Recorder, Verdict, check,
};

use crate::step2_choose_under_a_partition::run_schedule;
use crate::support::{Cluster, blind, config};

fn inv(client: usize, key: &str, call: Call) -> Event {
    Event::Invoke {
        client,
        key: key.to_string(),
        call,
    }
}
fn w(client: usize, key: &str, value: &str) -> Event {
    inv(client, key, Call::Write(value.to_string()))
}
fn r(client: usize, key: &str) -> Event {
    inv(client, key, Call::Read)
}
fn ok(client: usize) -> Event {
    Event::Ok { client, read: None }
}
fn saw(client: usize, value: &str) -> Event {
    Event::Ok {
        client,
        read: Some(value.to_string()),
    }
}
fn info(client: usize) -> Event {
    Event::Info { client }
}

fn verdict(history: &[Event]) -> Verdict {
    check(history).expect("a well-formed history")
}

fn linearizable(history: &[Event]) -> bool {
    verdict(history) == Verdict::Linearizable
}

/// Hand-made histories and their known answers: sequential and concurrent,
/// reads of nothing, a stale read, a write that took effect in the order
/// other than its invocation, a new-then-old inversion.
#[test]
fn step5_hand_made_histories_get_their_known_answers() {
    let cases: Vec<(&str, Vec<Event>, bool)> = vec![
        ("an empty history", vec![], true),
        (
            "a write then a read of it",
            vec![w(0, "k", "1"), ok(0), r(1, "k"), saw(1, "1")],
            true,
        ),
        (
            "a read of a key never written",
            vec![r(0, "k"), ok(0)],
            true,
        ),
        (
            "a read of a value never written",
            vec![r(0, "k"), saw(0, "9")],
            false,
        ),
        (
            "a stale read after two writes",
            vec![
                w(0, "k", "1"),
                ok(0),
                w(0, "k", "2"),
                ok(0),
                r(1, "k"),
                saw(1, "1"),
            ],
            false,
        ),
        (
            "a read that overlaps a write sees it",
            vec![w(0, "k", "1"), r(1, "k"), saw(1, "1"), ok(0)],
            true,
        ),
        (
            "a read that overlaps a write misses it",
            vec![w(0, "k", "1"), r(1, "k"), ok(1), ok(0)],
            true,
        ),
        (
            "two overlapping writes take effect in the order opposite to their invocations",
            vec![
                w(0, "k", "1"),
                w(1, "k", "2"),
                ok(1),
                ok(0),
                r(2, "k"),
                saw(2, "1"),
            ],
            true,
        ),
        (
            "two overlapping writes, then each of their values read in turn",
            vec![
                w(0, "k", "1"),
                w(1, "k", "2"),
                ok(1),
                ok(0),
                r(2, "k"),
                saw(2, "1"),
                r(2, "k"),
                saw(2, "2"),
            ],
            false,
        ),
        (
            "two overlapping writes, the later-invoked one read after both",
            vec![
                w(0, "k", "1"),
                w(1, "k", "2"),
                ok(0),
                ok(1),
                r(2, "k"),
                saw(2, "2"),
            ],
            true,
        ),
        (
            "two overlapping writes, the earlier-invoked one read after both",
            vec![
                w(0, "k", "1"),
                w(1, "k", "2"),
                ok(0),
                ok(1),
                r(2, "k"),
                saw(2, "1"),
            ],
            true,
        ),
        (
            "new then old during one write: once seen, a write cannot be unseen",
            vec![
                w(0, "k", "1"),
                ok(0),
                w(0, "k", "2"),
                r(1, "k"),
                saw(1, "2"),
                r(2, "k"),
                saw(2, "1"),
                ok(0),
            ],
            false,
        ),
        (
            "two concurrent reads during one write, one old, one new",
            vec![
                w(0, "k", "1"),
                ok(0),
                w(0, "k", "2"),
                r(1, "k"),
                r(2, "k"),
                saw(1, "2"),
                saw(2, "1"),
                ok(0),
            ],
            true,
        ),
    ];
    for (what, history, want) in cases {
        assert_eq!(linearizable(&history), want, "{what}: {history:?}");
    }
}

/// A write of unknown outcome may have happened (a later read may see it) or
/// not (reads may never see it), but once seen it happened; a read of unknown
/// outcome says nothing.
#[test]
fn step5_an_unknown_write_may_or_may_not_have_happened() {
    let cases: Vec<(&str, Vec<Event>, bool)> = vec![
        (
            "seen later",
            vec![w(0, "k", "1"), info(0), r(1, "k"), saw(1, "1")],
            true,
        ),
        (
            "never seen",
            vec![w(0, "k", "1"), info(0), r(1, "k"), ok(1), r(1, "k"), ok(1)],
            true,
        ),
        (
            "still pending at the end, and seen",
            vec![w(0, "k", "1"), r(1, "k"), saw(1, "1")],
            true,
        ),
        (
            "seen after a later write, so it took effect late",
            vec![
                w(0, "k", "1"),
                info(0),
                w(1, "k", "2"),
                ok(1),
                r(2, "k"),
                saw(2, "1"),
            ],
            true,
        ),
        (
            "seen, then unseen",
            vec![
                w(0, "k", "1"),
                info(0),
                r(1, "k"),
                saw(1, "1"),
                r(1, "k"),
                ok(1),
            ],
            false,
        ),
        (
            "seen before it was even invoked",
            vec![r(1, "k"), saw(1, "1"), w(0, "k", "1"), info(0)],
            false,
        ),
        (
            "seen before it was invoked, and still pending",
            vec![r(1, "k"), saw(1, "1"), w(0, "k", "1")],
            false,
        ),
        (
            "a read of unknown outcome after a write",
            vec![w(0, "k", "1"), ok(0), r(1, "k"), info(1)],
            true,
        ),
        (
            "a read of unknown outcome",
            vec![r(0, "k"), info(0), w(1, "k", "1"), ok(1)],
            true,
        ),
    ];
    for (what, history, want) in cases {
        assert_eq!(linearizable(&history), want, "{what}: {history:?}");
    }
}

/// One writer and one reader of one key, each read overlapping the next
/// write, `writes` rounds; round `stale`, if any, reads the value two writes
/// back (the write between them completed before the read began).
fn long_history(writes: usize, stale: Option<usize>) -> Vec<Event> {
    let mut history = Vec::new();
    for i in 0..writes {
        history.push(w(0, "k", &format!("v{i}")));
        history.push(r(1, "k"));
        history.push(ok(0));
        let read = match i {
            _ if Some(i) == stale => format!("v{}", i - 2),
            // Concurrent with write i: it may see that write or the one before.
            _ if i % 2 == 1 => format!("v{}", i - 1),
            _ => format!("v{i}"),
        };
        history.push(saw(1, &read));
    }
    history
}

/// A key with hundreds of operations is judged like a short one: the
/// placed set does not stop at 64 (or 128) operations.
#[test]
fn step5_a_key_with_hundreds_of_operations_is_judged_like_a_short_one() {
    let history = long_history(150, None);
    assert!(
        linearizable(&history),
        "300 operations on one key, every read fresh"
    );
    let stale = 120;
    let Verdict::Violation(found) = verdict(&long_history(150, Some(stale))) else {
        panic!("round {stale} read v{}: stale", stale - 2);
    };
    assert_eq!(found.key, "k");
    assert_eq!(
        found.ops.len(),
        2 * stale + 2,
        "the shortest failing prefix: {} writes and reads, up to the stale read",
        stale + 1
    );
    let last = found.ops.last().expect("a counterexample has operations");
    assert_eq!(
        (last.client, &last.call, last.read.as_deref()),
        (1, &Call::Read, Some(format!("v{}", stale - 2).as_str())),
        "it ends at the stale read"
    );
}

/// Keys are separate registers: what was written to one key is never read
/// from another, and a violation is reported on its own key.
#[test]
fn step5_keys_are_checked_independently() {
    let both = vec![
        w(0, "a", "1"),
        ok(0),
        w(1, "b", "2"),
        ok(1),
        r(2, "a"),
        saw(2, "1"),
        r(2, "b"),
        saw(2, "2"),
    ];
    assert!(linearizable(&both), "each key read its own write");
    let two_bad = vec![r(0, "z"), saw(0, "1"), r(1, "a"), saw(1, "1")];
    let Verdict::Violation(found) = verdict(&two_bad) else {
        panic!("neither z nor a was ever written 1");
    };
    assert_eq!(
        found.key, "z",
        "the first key to appear that fails is reported"
    );
    let crossed = vec![w(0, "a", "1"), ok(0), r(1, "b"), saw(1, "1")];
    let Verdict::Violation(found) = verdict(&crossed) else {
        panic!("b was never written 1");
    };
    assert_eq!(found.key, "b");
}

/// The counterexample is the shortest failing prefix of the offending key:
/// its operations in invocation order, ending at the read that cannot be
/// placed, without what came later or other keys' operations.
#[test]
fn step5_the_counterexample_is_the_shortest_failing_prefix_of_one_key() {
    let mut history = vec![
        w(0, "a", "1"), // 0
        ok(0),          // 1
        w(3, "b", "x"), // 2
        ok(3),          // 3
        w(0, "a", "2"), // 4
        ok(0),          // 5
        r(1, "a"),      // 6
        saw(1, "1"),    // 7: stale
    ];
    for k in 0..10 {
        history.push(w(0, "a", &format!("v{k}")));
        history.push(ok(0));
        history.push(r(3, "b"));
        history.push(saw(3, "x"));
    }
    let op = |client: usize, call: Call, read: Option<&str>, invoked: usize, completed: usize| {
        Operation {
            client,
            call,
            read: read.map(str::to_string),
            invoked,
            completed: Some(completed),
        }
    };
    assert_eq!(
        verdict(&history),
        Verdict::Violation(Counterexample {
            key: "a".to_string(),
            ops: vec![
                op(0, Call::Write("1".into()), None, 0, 1),
                op(0, Call::Write("2".into()), None, 4, 5),
                op(1, Call::Read, Some("1"), 6, 7),
            ],
        })
    );
}

/// In the counterexample, an operation that completes only after the
/// failing prefix is what it was at that point: pending. A pending read is
/// left out; a pending write is kept, with no completion.
#[test]
fn step5_an_operation_still_pending_at_the_failing_point_is_pending_in_the_counterexample() {
    let history = vec![
        r(9, "a"),      // 0: a long read, completed after the violation
        w(0, "a", "1"), // 1
        ok(0),          // 2
        w(1, "a", "3"), // 3: a long write, also completed after it
        w(0, "a", "2"), // 4
        ok(0),          // 5
        r(2, "a"),      // 6
        saw(2, "1"),    // 7: stale, as 2 completed before it began
        ok(1),          // 8
        saw(9, "2"),    // 9
    ];
    let Verdict::Violation(found) = verdict(&history) else {
        panic!("the read at 7 is stale: {history:?}");
    };
    let done = |client: usize,
                call: Call,
                read: Option<&str>,
                invoked: usize,
                completed: Option<usize>| Operation {
        client,
        call,
        read: read.map(str::to_string),
        invoked,
        completed,
    };
    assert_eq!(
        found.ops,
        vec![
            done(0, Call::Write("1".into()), None, 1, Some(2)),
            done(1, Call::Write("3".into()), None, 3, None),
            done(0, Call::Write("2".into()), None, 4, Some(5)),
            done(2, Call::Read, Some("1"), 6, Some(7)),
        ]
    );
}

/// A history that is not one is refused, not judged: a completion with no
/// invocation, a second invocation while the first is pending.
#[test]
fn step5_a_malformed_history_is_refused() {
    for (what, history) in [
        ("an ok with no invocation", vec![ok(0)]),
        (
            "an info with no invocation",
            vec![w(0, "k", "1"), ok(0), info(0)],
        ),
        ("a fail with no invocation", vec![Event::Fail { client: 4 }]),
        (
            "two invocations at once",
            vec![w(0, "k", "1"), r(0, "k"), ok(0)],
        ),
    ] {
        let result = check(&history);
        assert!(
            matches!(result, Err(KvError::BadHistory(_))),
            "{what} is refused as a BadHistory, with no verdict: {result:?}"
        );
    }
}

/// Record `ops` writes of `key` through node `via` by `client`, one at a
/// time, each with the context of the last acknowledged one: 200 is ok, a
/// 503 (or any other answer) an unknown outcome.
async fn writer(
    cluster: &Cluster,
    log: &Recorder,
    client: usize,
    via: usize,
    key: &str,
    ops: usize,
) -> anyhow::Result<()> {
    let mut context = blind();
    for k in 0..ops {
        let value = format!("{key}-{client}-{k}");
        log.invoke(client, key, Call::Write(value.clone()));
        let reply = cluster.put(via, key, &value, &context).await?;
        if reply.ok() {
            context = reply.context();
            log.ok(client, None);
        } else {
            log.info(client);
        }
    }
    Ok(())
}

/// Record `ops` reads of each of `keys` through node `via`: 200 is ok with
/// what was read (siblings are recorded joined, which no write wrote), a 503
/// a failed read.
async fn reader(
    cluster: &Cluster,
    log: &Recorder,
    client: usize,
    via: usize,
    keys: &[&str],
    ops: usize,
) -> anyhow::Result<()> {
    for k in 0..ops {
        let key = keys[k % keys.len()];
        log.invoke(client, key, Call::Read);
        let reply = cluster.get(via, key).await?;
        match reply.status {
            200 => {
                let values = reply.values();
                log.ok(client, (!values.is_empty()).then(|| values.join("|")));
            }
            503 => log.fail(client),
            _ => log.info(client),
        }
    }
    Ok(())
}

/// Concurrent clients on strict quorums with no fault record a linearizable
/// history (one writer per key, readers on every node): step 1's claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_concurrent_clients_on_strict_quorums_record_a_linearizable_history()
-> anyhow::Result<()> {
    let cluster = Arc::new(Cluster::start(3, config(3, Mode::Cp)).await?);
    let log = Arc::new(Recorder::new());
    let mut tasks = tokio::task::JoinSet::new();
    for (client, via, key) in [(0, 0, "a"), (1, 1, "b")] {
        let (cluster, log) = (cluster.clone(), log.clone());
        tasks.spawn(async move { writer(&cluster, &log, client, via, key, 12).await });
    }
    for (client, via) in [(2, 2), (3, 0), (4, 1)] {
        let (cluster, log) = (cluster.clone(), log.clone());
        tasks.spawn(async move { reader(&cluster, &log, client, via, &["a", "b"], 16).await });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let history = log.events();
    assert_eq!(history.len(), 2 * (2 * 12 + 3 * 16));
    assert_eq!(check(&history)?, Verdict::Linearizable, "{history:?}");
    Ok(())
}

/// CP under a partition records a linearizable history: the minority's
/// write is unknown, its reads fail, the majority's writes and reads are
/// consistent, and so are the reads after the partition heals, whether or
/// not they see the unknown write. (One unknown write only: a client that
/// writes again without a context after an unknown outcome makes its two
/// attempts siblings, and a read of siblings is no register's read.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_a_cp_history_recorded_under_a_partition_is_linearizable() -> anyhow::Result<()> {
    let cluster = Arc::new(Cluster::start(3, config(3, Mode::Cp)).await?);
    cluster.partition(&[&[0], &[1, 2]]);
    let log = Arc::new(Recorder::new());
    let mut tasks = tokio::task::JoinSet::new();
    for (client, via, key, ops) in [(0, 1, "a", 4), (1, 0, "b", 1)] {
        let (cluster, log) = (cluster.clone(), log.clone());
        tasks.spawn(async move { writer(&cluster, &log, client, via, key, ops).await });
    }
    for (client, via) in [(2, 2), (3, 0)] {
        let (cluster, log) = (cluster.clone(), log.clone());
        tasks.spawn(async move { reader(&cluster, &log, client, via, &["a", "b"], 6).await });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    cluster.heal();
    reader(&cluster, &log, 4, 2, &["a", "b"], 4).await?;
    let history = log.events();
    let unknown = history
        .iter()
        .filter(|e| matches!(e, Event::Info { .. }))
        .count();
    let failed = history
        .iter()
        .filter(|e| matches!(e, Event::Fail { .. }))
        .count();
    assert!(
        unknown == 1 && failed >= 6,
        "the minority's write is unknown and its reads failed: {history:?}"
    );
    assert_eq!(check(&history)?, Verdict::Linearizable, "{history:?}");
    Ok(())
}

/// The checker finds the stale read that R = W = 1 allows, provoked as in
/// step 1, and its counterexample ends at that read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_the_checker_finds_the_stale_read_of_r_and_w_of_one() -> anyhow::Result<()> {
    let cluster = Cluster::start(
        3,
        Config {
            r: 1,
            w: 1,
            ..config(3, Mode::Cp)
        },
    )
    .await?;
    let log = Recorder::new();
    writer(&cluster, &log, 0, 0, "k", 1).await?;
    cluster.wait_held(&[0, 1, 2], "k", &["k-0-0"]).await?;
    cluster.link(0, 1).stall();
    cluster.link(0, 2).stall();
    log.invoke(0, "k", Call::Write("new".into()));
    cluster
        .put_ok(0, "k", "new", &log_context(&cluster).await?)
        .await?;
    log.ok(0, None);
    cluster.link(2, 0).stall();
    reader(&cluster, &log, 1, 2, &["k"], 1).await?;
    let history = log.events();
    let Verdict::Violation(found) = check(&history)? else {
        panic!("R = W = 1 served a stale read, and the checker must say so: {history:?}");
    };
    assert_eq!(found.key, "k");
    let last = found.ops.last().expect("a counterexample has operations");
    assert_eq!(
        (last.client, &last.call, last.read.as_deref()),
        (1, &Call::Read, Some("k-0-0")),
        "{found:?}"
    );
    Ok(())
}

/// The context of node 0's current value, read at `one` (its own replica).
async fn log_context(cluster: &Cluster) -> anyhow::Result<quorum_kv::VersionVector> {
    let reply = cluster.get_at(0, "k", Some("one")).await?;
    anyhow::ensure!(reply.ok(), "{}", reply.text);
    Ok(reply.context())
}

/// The checker finds what AP gave up under step 2's partition: a read, after
/// an acknowledged write, that returns the other side's value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_the_checker_finds_what_ap_gave_up_under_the_partition() -> anyhow::Result<()> {
    let s = run_schedule(Mode::Ap, 2).await?;
    // AP answered everything, or there is no AP history to judge: a refused
    // read would be recorded as a read of nothing and flagged all the same.
    for (what, reply) in [
        ("the minority's write", &s.minority_put),
        ("the majority's write", &s.majority_put),
        ("the minority's read", &s.minority_get),
        ("the majority's read", &s.majority_get),
    ] {
        assert!(
            reply.ok(),
            "AP answers {what}: {} {}",
            reply.status,
            reply.text
        );
    }
    let read = |reply: &crate::support::Reply| reply.values().first().cloned();
    // The schedule's operations ran one after another, so their events do too.
    let history = vec![
        w(0, "k", "v0"),
        ok(0),
        w(1, "k", "a"),
        if s.minority_put.ok() { ok(1) } else { info(1) },
        w(2, "k", "b"),
        if s.majority_put.ok() { ok(2) } else { info(2) },
        r(3, "k"),
        Event::Ok {
            client: 3,
            read: read(&s.minority_get),
        },
        r(4, "k"),
        Event::Ok {
            client: 4,
            read: read(&s.majority_get),
        },
    ];
    let Verdict::Violation(found) = check(&history)? else {
        panic!("AP served a read that missed an acknowledged write: {history:?}");
    };
    assert_eq!(
        found.ops.last().map(|o| o.client),
        Some(3),
        "the minority's read: {found:?}"
    );
    Ok(())
}
