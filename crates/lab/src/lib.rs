//! The backend-lab CLI as a library, so the lab's own tests can drive it.
//!
//! * [`workspace`] finds the lab and its exercises; [`exercise`] reads their
//!   `exercise.toml`.
//! * [`cargo`] runs `cargo test` and [`libtest`] reads its plain output (stable
//!   across Rust versions, unlike libtest's unstable JSON).
//! * [`state`] keeps the learner's progress outside version control; [`git`]
//!   answers what the lab shipped (for `reset` and the provided-file warning).
//! * [`verify`] is the maintainers' gate; [`mutant`] applies curated wrong
//!   answers to a scratch copy of the workspace; [`record`] keeps what a
//!   successful verify proved, so `verify --changed` re-runs only what changed.
//! * [`takehome`] writes one exercise as a standalone bundle for a candidate;
//!   [`grade`] grades what comes back; [`interview`] keeps the transcript of
//!   a timed mock interview.
//! * [`cli`] is the command line.

pub mod cargo;
pub mod cli;
pub mod exercise;
pub mod git;
pub mod grade;
pub mod interview;
pub mod libtest;
pub mod lockfile;
pub mod mutant;
pub mod record;
pub mod services;
pub mod state;
pub mod takehome;
pub mod verify;
pub mod workspace;
