//! The lab's tests of itself live in `tests/` next to this file:
//!
//! * `verify.rs` — `lab verify` on tiny generated labs, sound and unsound;
//! * `exercises.rs` — every real exercise's files agree with each other
//!   (tests ↔ steps ↔ README ↔ hints ↔ TODOs ↔ mutants ↔ the reference's manifest);
//! * `support/fixture.rs` — the generated tiny lab, shared with
//!   `crates/lab/tests/cli.rs`.
