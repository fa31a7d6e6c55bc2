//! The hidden tests of kafka_at_least_once: graded, never in a take-home
//! bundle (the candidate never sees them). Same step naming as the visible
//! spec, one module per step, `stepN_hidden::stepN_…`.
//!
//! ```text
//! cargo test -p kafka_at_least_once_solution --test hidden
//! ```
//!
//! They reuse the visible spec's `support` (a test's own database, topics and
//! group; the recording probe; the readers) and check README promises the
//! visible tests leave open: a stop waits for the record in flight (step 1),
//! an attempt is bounded by `io_timeout` (step 5), and the relay marks exactly
//! the rows it produced (step 6).

#[path = "../../../exercises/kafka_at_least_once/tests/spec/support/mod.rs"]
mod support;

mod step1_hidden;
mod step5_hidden;
mod step6_hidden;
