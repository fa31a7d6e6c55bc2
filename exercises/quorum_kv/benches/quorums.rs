//! PACELC's "else", measured: what each consistency level costs when nothing
//! is broken, and how long the checker takes. Benchmarked, never asserted.
//!
//! ```text
//! cargo bench -p quorum_kv_solution --features bench
//! ```
//!
//! `read/<level>/<delay>` and `write/<level>/<delay>`: one request through
//! node 0 of one cluster (3 nodes, N = 3, CP, version vectors), at `one`,
//! `quorum` and `all`, with 0, 5 and 40 ms added by the proxy on one link,
//! node 0 to node 2, to every chunk it forwards (each way: a round trip costs
//! at least twice that). Each write carries the previous write's context, so
//! the key keeps one value. Afterwards, printed for each case: p50, p99 and
//! requests per second over 100 more requests (40 at 40 ms), one at a time.
//!
//! `checker/<ops>`: the checker on a linearizable history of 100, 1,000 and
//! 10,000 operations by 10 clients over 4 keys, made by simulating an atomic
//! register (each operation takes effect at a random instant between its
//! invocation and its completion), so the checker must find an order.

#[path = "../tests/spec/support/mod.rs"]
mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use quorum_kv::{Call, Event, Mode, Verdict, check};
use support::{Cluster, blind, config};

const LEVELS: [&str; 3] = ["one", "quorum", "all"];
const DELAYS_MS: [u64; 3] = [0, 5, 40];

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let (cluster, first) = rt.block_on(async {
        let cluster = Cluster::start(3, config(3, Mode::Cp))
            .await
            .expect("a cluster");
        let first = cluster
            .put_ok(0, "bench", "v", &blind())
            .await
            .expect("a first write");
        (cluster, first)
    });
    // Each write carries the context of the one before, as one client
    // overwriting its own value does: blind writes would pile up as siblings
    // (they are concurrent), and every request would carry them all.
    let context = Mutex::new(first);
    let mut printed = Vec::new();
    let mut group = c.benchmark_group("requests");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for delay in DELAYS_MS {
        if delay == 0 {
            cluster.link(0, 2).restore();
        } else {
            cluster.link(0, 2).slow(Duration::from_millis(delay));
        }
        for level in LEVELS {
            for kind in ["read", "write"] {
                let one = || async {
                    let reply = if kind == "read" {
                        cluster.get_at(0, "bench", Some(level)).await
                    } else {
                        let last = context.lock().expect("unpoisoned").clone();
                        cluster.put_at(0, "bench", "v", &last, Some(level)).await
                    };
                    let reply = reply.expect("a request");
                    assert!(reply.ok(), "{kind} at {level}: {}", reply.text);
                    if kind == "write" {
                        *context.lock().expect("unpoisoned") = reply.context();
                    }
                };
                group.bench_function(format!("{kind}/{level}/{delay}ms"), |b| {
                    b.to_async(&rt).iter(one)
                });
                let n = if delay >= 40 { 40 } else { 100 };
                let mut times = Vec::with_capacity(n);
                let started = Instant::now();
                for _ in 0..n {
                    let at = Instant::now();
                    rt.block_on(one());
                    times.push(at.elapsed());
                }
                let per_second = n as f64 / started.elapsed().as_secs_f64();
                times.sort();
                printed.push(format!(
                    "{kind:>5} {level:>6} {delay:>3} ms   p50 {:>9.2?}   p99 {:>9.2?}   {per_second:>8.1} req/s",
                    times[n / 2],
                    times[(n * 99 / 100).min(n - 1)]
                ));
            }
        }
    }
    group.finish();
    println!(
        "\none request at a time through node 0, link 0 -> 2 slowed (same cluster, same run):"
    );
    for line in printed {
        println!("{line}");
    }
}

/// A small deterministic generator (xorshift64*), so every run checks the
/// same histories.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// A linearizable history of `ops` operations by `clients` clients on
/// `keys` keys: each step, a random client invokes (if idle), takes effect
/// (if invoked), or completes (if it has taken effect).
fn history(ops: usize, clients: usize, keys: usize) -> Vec<Event> {
    #[derive(Clone)]
    enum State {
        Idle,
        Invoked(usize, Call),
        Done(Option<String>),
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut values: Vec<Option<String>> = vec![None; keys];
    let mut state = vec![State::Idle; clients];
    let mut events = Vec::new();
    let (mut invoked, mut completed) = (0, 0);
    while completed < ops {
        let client = rng.below(clients as u64) as usize;
        match state[client].clone() {
            State::Idle if invoked < ops => {
                let key = rng.below(keys as u64) as usize;
                let call = if rng.below(2) == 0 {
                    Call::Read
                } else {
                    Call::Write(format!("{client}-{invoked}"))
                };
                events.push(Event::Invoke {
                    client,
                    key: format!("k{key}"),
                    call: call.clone(),
                });
                state[client] = State::Invoked(key, call);
                invoked += 1;
            }
            State::Idle => {}
            State::Invoked(key, Call::Read) => state[client] = State::Done(values[key].clone()),
            State::Invoked(key, Call::Write(v)) => {
                values[key] = Some(v);
                state[client] = State::Done(None);
            }
            State::Done(read) => {
                events.push(Event::Ok { client, read });
                state[client] = State::Idle;
                completed += 1;
            }
        }
    }
    events
}

fn checker(c: &mut Criterion) {
    let mut group = c.benchmark_group("checker");
    group.sample_size(10);
    for ops in [100, 1_000, 10_000] {
        let events = history(ops, 10, 4);
        assert_eq!(
            check(&events).expect("a well-formed history"),
            Verdict::Linearizable
        );
        group.bench_with_input(BenchmarkId::from_parameter(ops), &events, |b, events| {
            b.iter(|| check(events).expect("a well-formed history"))
        });
    }
    group.finish();
}

criterion_group!(benches, requests, checker);
criterion_main!(benches);
