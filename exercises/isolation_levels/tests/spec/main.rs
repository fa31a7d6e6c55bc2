//! The isolation_levels spec: `cargo test -p isolation_levels` runs it against
//! your code, `cargo test -p isolation_levels step3` one step of it.

mod support;

mod step1_interleavings;
mod step2_lost_update;
mod step3_write_skew;
mod step4_retries;
mod step5_mariadb;
mod step6_read_only;
