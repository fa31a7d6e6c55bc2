//! # labkit-cluster — servers a test starts, breaks and stops itself
//!
//! Some lessons need more than one server: a failover needs a primary and its
//! standbys, and the replication link between them must be something a test can
//! cut. labkit's shared services cannot give that (one server, many tests), so
//! this crate starts whole clusters from the server binaries on the machine, one
//! per test, in temporary directories on free loopback ports.
//!
//! * [`PgCluster`]: a Postgres primary and one or more streaming standbys
//!   (`initdb`, `pg_basebackup -R`, `pg_ctl`). Each standby's replication
//!   connection goes through its own [`labkit::FaultProxy`], the "cross-region"
//!   link a test cuts or stalls. Controls: pause and resume WAL replay, `kill -9`
//!   a server, freeze and thaw it (SIGSTOP/SIGCONT, a stop-the-world pause), read
//!   its LSNs, promote it, switch synchronous replication on.
//! * **Finding the binaries** ([`pg_bin_dir`]): `LAB_PG_BIN`, else a directory on
//!   the `PATH` holding `initdb`, `pg_ctl`, `pg_basebackup` and `postgres`, else the
//!   newest `/usr/lib/postgresql/*/bin`. None: an error naming what to install.
//! * **As root**: Postgres refuses to run as root, so every server process runs as
//!   the `postgres` account (which the server package creates).
//! * **Nothing left behind**: dropping a cluster kills every process of every
//!   server (thawing frozen ones first), removes their shared memory and their
//!   directories, pass or fail.

mod pg;
mod process;

pub use pg::{ClusterConfig, NodeLsns, PgCluster, PgNode, pg_bin_dir};
pub use process::is_running;
