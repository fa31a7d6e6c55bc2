//! The hidden tests of rate_limiter: graded, never shown to the candidate (a
//! take-home bundle leaves `solutions/` out). Same step naming as the visible
//! spec — one `stepN_hidden` module per step, test names that are sentences
//! starting with their step — and the spec's own helpers.
//!
//! ```text
//! cargo test -p rate_limiter_solution --test hidden
//! ```
//!
//! Each test checks a promise of the README that the visible spec leaves
//! unchecked (or checks only weakly), and kills a curated mutant in
//! `solutions/rate_limiter/mutants/` that the visible spec lets through.

// The hidden tests use only some of the spec's helpers.
#[allow(dead_code)]
#[path = "../../../exercises/rate_limiter/tests/spec/support.rs"]
mod support;

mod step1_hidden;
mod step3_hidden;
mod step4_hidden;
mod step5_hidden;
