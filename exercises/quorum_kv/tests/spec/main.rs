//! The spec of quorum_kv, step by step. Every test starts its own cluster of
//! nodes (axum on loopback, each with its own Postgres database, every link
//! between two nodes through a fault proxy) and stops it at the end.
//!
//! ```text
//! cargo test -p quorum_kv step1      # one step
//! cargo lab check quorum_kv          # progress, and the first failure explained
//! ```

mod support;

mod step1_replicate_with_quorums;
mod step2_choose_under_a_partition;
mod step3_concurrent_writes;
mod step4_pacelc_else;
mod step5_the_checker;
