//! Hidden tests of failover_fencing: graded, never shipped in a take-home
//! bundle. They use the spec's own support (the same clusters, the same bounds).

// Not every helper of the visible spec's support is used here.
#[allow(dead_code)]
#[path = "../../../exercises/failover_fencing/tests/spec/support/mod.rs"]
mod support;

mod step1_hidden;
mod step2_hidden;
mod step3_hidden;
mod step4_hidden;
mod step5_hidden;
