//! # A real Postgres failover, and everything that goes wrong silently
//!
//! Read `README.md` next to this crate (the question and the steps are there),
//! then make the tests pass step by step:
//!
//! ```text
//! cargo test -p failover_fencing step1     # or: cargo lab check failover_fencing
//! ```
//!
//! | step | yours                                          | what you build                                              |
//! |------|------------------------------------------------|-------------------------------------------------------------|
//! | 1    | [`lsn`], [`detector`], [`health`], [`failover`] | LSNs as numbers; dead after N bounded failures in a window; promote the most-replayed standby; find the primary by asking |
//! | 2    | [`loss`]                                       | name the acknowledged writes a failover lost; an unanswered COMMIT is unknown, settled once |
//! | 3    | [`fencing`]                                    | an epoch checked by the write itself; a thawed old primary that refuses writes |
//! | 4    | [`reads`]                                      | read your writes from a standby, with the commit LSN as a token |
//! | 5    | [`checklist`]                                  | after a failover: sequences past every acknowledged id, empty unlogged tables, the timeline |
//!
//! Provided (read them, do not change them): [`app`] (the service's plain
//! writes), [`directory`] (where clients look up the primary), [`error`] and
//! [`schema`] (and `sql/`). Every place you need to change is marked
//! `// TODO(step N)`.
//!
//! The tests start their own clusters with `labkit-cluster` from the Postgres
//! server binaries on this machine (`initdb`, `pg_ctl`, `pg_basebackup`).

// The skeleton leaves parameters and imports unused until you write the bodies.
// `expect` rather than `allow`: once your code uses them all, the compiler says
// this line is no longer needed, and you delete it.
#![expect(unused_variables, unused_imports, dead_code)]

pub mod app;
pub mod directory;
pub mod error;
pub mod schema;

pub mod checklist;
pub mod detector;
pub mod failover;
pub mod fencing;
pub mod health;
pub mod loss;
pub mod lsn;
pub mod reads;

pub use app::{Ack, Payment};
pub use checklist::{ChecklistReport, SequenceCheck, post_failover_checklist};
pub use detector::{Detector, DetectorConfig, Verdict};
pub use directory::Directory;
pub use error::FailoverError;
pub use failover::{
    Monitor, Promoted, connect_primary, failover, most_advanced, promote, watch_and_failover,
};
pub use fencing::{FencedOld, current_epoch, fence_old_primary, promote_with_epoch, write_fenced};
pub use health::{Health, check};
pub use loss::{CommitOutcome, Reconciliation, Settled, reconcile, settle, write_once};
pub use lsn::Lsn;
pub use reads::{ReadFrom, ReadPolicy, read_after_write, write_with_token};
