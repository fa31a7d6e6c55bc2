//! Hidden tests of quorum_kv: graded, never shipped in a take-home bundle.
//! They use the spec's own support (the same clusters, the same bounds).

// Not every helper of the visible spec's support is used here (the support
// module allows dead code itself).
#[path = "../../../exercises/quorum_kv/tests/spec/support/mod.rs"]
mod support;

mod step2_hidden;
mod step3_hidden;
mod step4_hidden;
mod step5_hidden;
