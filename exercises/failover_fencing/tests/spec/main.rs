//! The spec of failover_fencing, step by step. Every test starts its own
//! Postgres cluster (a primary and one or two streaming standbys, from the
//! server binaries on this machine) and stops it at the end, pass or fail.
//!
//! ```text
//! cargo test -p failover_fencing step1      # one step
//! cargo lab check failover_fencing          # progress, and the first failure explained
//! ```

mod support;

mod step1_detect_and_promote;
mod step2_what_replication_loses;
mod step3_fencing;
mod step4_read_your_writes;
mod step5_the_silent_ones;
