//! The distributed_counter spec, one module per README step.
//!
//! ```text
//! cargo test -p distributed_counter step3     # one step
//! cargo lab check distributed_counter         # all of them, with progress
//! ```
//!
//! Each node gets its own Postgres database (`LAB_POSTGRES_URL`, or Docker); all
//! traffic between nodes, and between each node and its database, goes through
//! labkit fault proxies, so tests can partition any pair and cut any database.

mod support;

mod step1_crdt;
mod step2_node;
mod step3_replication;
mod step4_faults;
mod step5_linearizable;
