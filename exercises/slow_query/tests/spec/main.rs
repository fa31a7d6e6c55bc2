//! The slow_query spec, one module per README step.
//!
//! ```text
//! cargo test -p slow_query step2     # one step
//! cargo lab check slow_query         # all of them, with progress
//! ```
//!
//! Every test gets its own copy of a seeded database (500,000 orders ×
//! `LAB_SCALE`; seeded once per Postgres server, then copied as a template).
//! Speed is asserted the way it holds at any scale and on any machine: from
//! the plan Postgres chose and the pages it touched (`EXPLAIN (ANALYZE,
//! BUFFERS)`), and lock behaviour from Postgres itself, never from a clock.

mod support;

mod step1_read_the_plan;
mod step2_the_index;
mod step3_list_view;
mod step4_next_page;
mod step5_at_scale;
